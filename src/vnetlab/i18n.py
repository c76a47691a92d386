"""Output languages: English (the source text) and Chinese (``--lang zh``).

Two layers, both pure functions of their input (so output stays deterministic):

* ``t(key, lang, **fields)``: the fixed phrases of vnetlab's own output
  (headings, verdict templates, table labels), from one message catalog,
  ``MESSAGES`` (key -> {"en": ..., "zh": ...}). The English entry is the exact
  text the code printed before there was a catalog, so English output is
  unchanged byte for byte.
* ``note(text, lang)``: the sentences devices record in trace steps (and the
  few other English sentences device code produces: DHCP outcome lines, load
  warnings, matrix reasons). They are written in English where the decision
  is made; Chinese output translates them by pattern, keeping names,
  addresses, times, kernel function names, rule ids and drop-reason tokens as
  they are (operators search for those). A sentence no pattern covers is left
  in English rather than guessed.

A pattern is a full sentence shape (``re.fullmatch``) with named groups and a
Chinese template using the same names. Group names carry what to do with the
captured text:

* ``..._n``: a nested sentence, translated by ``note()`` in turn (``transmitted
  on ens224 (roundrobin: frame #1 -> port index 0)``: the part in brackets);
* ``..._w``: a word or fixed phrase looked up in ``WORDS`` (an STP state, a
  flood kind);
* anything else passes through unchanged (names, MACs, IPs, times).

If a nested sentence or a word has no translation the whole pattern fails and
the next one is tried; if none matches, the English sentence is kept whole. A
sentence made of clauses joined by "; " is translated clause group by clause
group when no pattern covers it whole (every clause must translate).
See docs/i18n.md for the glossary and how to add a pattern.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

LANGS = ("en", "zh")

MESSAGES: dict[str, dict[str, str]] = {}


def pick_lang(option: str | None = None) -> str:
    """``--lang`` if given, else the locale (LC_ALL, LC_MESSAGES, LANG: ``zh_*`` means zh)."""
    if option:
        if option not in LANGS:
            raise ValueError(f"unknown language {option!r} (expected one of: {', '.join(LANGS)})")
        return option
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def t(key: str, lang: str = "en", **fields: object) -> str:
    """The phrase ``key`` in ``lang`` (English when the catalog lacks it), formatted."""
    entry = MESSAGES.get(key)
    text = key if entry is None else entry.get(lang) or entry.get("en", key)
    return text.format(**fields) if fields else text


# -- the message catalog ---------------------------------------------------------------------
# key: (English, exactly as printed before; Chinese)

_CATALOG: dict[str, tuple[str, str]] = {
    # explain/render.py
    "render.question": ("Question: {question}", "问题：{question}"),
    "render.verdict": ("Verdict:  {verdict}", "结论：{verdict}"),
    "render.path": ("Path (each step caused by the one above):", "路径（每一步由上一步引起）："),
    "render.decisive": ("Decisive step:", "决定性的一步："),
    "render.root_cause": ("Root cause: the state this decision used was set by:",
                          "根因：这一决定所依据的状态由以下步骤设置："),
    "render.in_short": ("In short:", "简而言之："),
    # explain/explain.py: questions and verdicts
    "explain.q.ping_reply": ("why did ping {src} -> {dst} seq={seq} (sent at {sent}) get a reply?",
                             "为什么 ping {src} -> {dst} seq={seq}（发送于 {sent}）收到了应答？"),
    "explain.q.ping_no_reply": ("why did ping {src} -> {dst} seq={seq} (sent at {sent}) get no "
                                "reply?",
                                "为什么 ping {src} -> {dst} seq={seq}（发送于 {sent}）没有收到应答？"),
    "explain.v.reply_at": ("DELIVERED: reply at {time}", "已送达：应答于 {time} 到达"),
    "explain.q.frame": ("what happened to frame {uid}?", "帧 {uid} 发生了什么？"),
    "explain.v.no_frame": ("UNKNOWN: no such frame", "未知：没有这个帧"),
    "explain.q.fdb_on": ("why is {mac} on {port} in the FDB of {table}?",
                         "为什么 {mac} 在 {table} 的转发表（FDB）中位于 {port}？"),
    "explain.q.fdb_not": ("why is {mac} not in the FDB of {table}?",
                          "为什么 {mac} 不在 {table} 的转发表（FDB）中？"),
    "explain.v.not_learned": ("NOT LEARNED: no learning step for this MAC (learning off on the "
                              "port, or ageing_time 0)",
                              "未学习：没有这个 MAC 的学习步骤（端口关闭了学习，或 ageing_time 为 0）"),
    "explain.v.fdb_last": ("{action}: {note}", "{action}：{note}"),
    "explain.v.no_drop": ("NO DROP RECORDED", "没有记录到丢弃"),
    "explain.v.delivered_at": ("DELIVERED at {where}", "已送达 {where}"),
    "explain.v.not_delivered": ("NOT DELIVERED: dropped at {where} ({reason}): {note}",
                                "未送达：在 {where} 被丢弃（{reason}）：{note}"),
    "explain.s.change": ("{where}: {note} at {time} [{fn}, {rule}]",
                         "{where}：{note}，时间 {time} [{fn}, {rule}]"),
    "explain.s.cause": ("{where}: {note} at {time} (frame uid={uid}) [{fn}, {rule}]",
                        "{where}：{note}，时间 {time}（帧 uid={uid}）[{fn}, {rule}]"),
    "explain.s.sent_by": ("the frame was sent by {where}: {note}", "该帧由 {where} 发出：{note}"),
    "explain.s.sent_out": ("{where} sent it out of {port}: {why}", "{where} 从 {port} 发出该帧：{why}"),
    "explain.s.flooded_back": ("{where} received it on {port} and flooded it out of {out}: {port} "
                               "and {out} are separate ports, not one LAG, so the flood goes back "
                               "towards the sender (S1, S3)",
                               "{where} 从 {port} 收到该帧并泛洪到 {out}：{port} 和 {out} 是两个独立"
                               "端口，不是同一个链路聚合组（LAG），所以泛洪又回到了发送方（S1, S3）"),
    "explain.s.delivered_up": ("{where} delivered it up: {note} [{fn}, {rule}]",
                               "{where} 把它上送：{note} [{fn}, {rule}]"),
    "explain.s.came_back": ("so {node}'s own frame came back into {node} on {port}",
                            "于是 {node} 自己发出的帧又从 {port} 回到了 {node}"),
    # explain/dhcp.py
    "dhcp.what": ("the {msg} at {time}", "{time} 的 {msg}"),
    "dhcp.answered": ("{what} was answered: {note}", "{what} 得到了应答：{note}"),
    "dhcp.refused": ("{what} reached {where}, which offered nothing: {note}",
                     "{what} 到达了 {where}，但它没有提供任何地址：{note}"),
    "dhcp.reply_dropped": ("{what} reached {where}; its {msg} was dropped at {at} ({reason}): "
                           "{note}",
                           "{what} 到达了 {where}；它回复的 {msg} 在 {at} 被丢弃（{reason}）："
                           "{note}"),
    "dhcp.discarded": ("{what} was answered, but the client discarded the reply: {note}",
                       "{what} 得到了应答，但客户端丢弃了应答：{note}"),
    "dhcp.reply_late": ("{what} reached {where}, whose reply was not delivered before the run "
                        "ended", "{what} 到达了 {where}，但其应答在运行结束前没有送达"),
    "dhcp.dropped": ("{what} was dropped at {at} ({reason}): {note}",
                     "{what} 在 {at} 被丢弃（{reason}）：{note}"),
    "dhcp.reached_only": ("{what} reached only {reached}: no DHCP server or relay there",
                          "{what} 只到达了 {reached}：那里没有 DHCP 服务器或中继"),
    "dhcp.dead_end": ("; {where} had no other port to flood it to",
                      "；{where} 没有其他端口可以泛洪"),
    "dhcp.router": ("; {where} routes between subnets but does not forward the limited broadcast "
                    "255.255.255.255 and has no dhcp-relay on {port} (D1)",
                    "；{where} 在子网之间路由，但不转发受限广播 255.255.255.255，且在 {port} 上没有"
                    "配置 dhcp-relay（D1）"),
    "dhcp.nowhere": ("{what} went nowhere: no drop recorded", "{what} 哪里也没到：没有记录到丢弃"),
    "dhcp.flood_none": ("; {where} flooded it to no port", "；{where} 没有把它泛洪到任何端口"),
    "dhcp.at_port": ("{where} port {port}", "{where} 端口 {port}"),
    "dhcp.was_state": (" was {state} then ({rule})", "，当时处于{state}状态（{rule}）"),
    "dhcp.forwards_from": ("{where} port {port}{state}; it forwards from {time} [{fn}, {rule}]",
                           "{where} 端口 {port}{state}；它从 {time} 起才转发 [{fn}, {rule}]"),
    "dhcp.never_forwarded": ("{where} port {port}{state}; it never forwarded during the run",
                             "{where} 端口 {port}{state}；运行期间它一直没有进入转发状态"),
    "dhcp.q.no_client": ("why did {node} get no DHCP address?", "为什么 {node} 没有获得 DHCP 地址？"),
    "dhcp.v.no_client": ("UNKNOWN: {node} runs no DHCP client", "未知：{node} 没有运行 DHCP 客户端"),
    "dhcp.q.no_address": ("why did {ref} ({label}) get no address?",
                          "为什么 {ref}（{label}）没有获得地址？"),
    "dhcp.v.sent_nothing": ("NO ADDRESS: {label} sent nothing (it starts at {time})",
                            "没有地址：{label} 什么也没有发送（它在 {time} 启动）"),
    "dhcp.v.link_local": ("LINK-LOCAL {address}", "链路本地地址 {address}"),
    "dhcp.v.no_address": ("NO ADDRESS", "没有地址"),
    "dhcp.v.head": ("{head}: {sentence}", "{head}：{sentence}"),
    "dhcp.s.last": ("the last unanswered {msg} was sent at {time}: {sentence}",
                    "最后一个没有得到应答的 {msg} 发送于 {time}：{sentence}"),
    "dhcp.s.same_way": ("{count} of the {total} DISCOVERs/REQUESTs sent ({times}) died the same "
                        "way",
                        "已发送的 {total} 个 DISCOVER/REQUEST 中有 {count} 个（{times}）以同样的方式"
                        "失败"),
    "dhcp.s.gave_up": ("{label} gave up at {time}: {why}", "{label} 在 {time} 放弃：{why}"),
    "dhcp.s.at": ("at {time}: {note}", "{time}：{note}"),
    "dhcp.s.link_local": ("link-local address", "链路本地地址"),
    "dhcp.q.bound": ("when and how did {ref} ({label}) get its address?",
                     "{ref}（{label}）是何时、如何获得地址的？"),
    "dhcp.v.bound": ("BOUND: {address} at {time}, {after} after {label} started",
                     "已绑定：{time} 获得 {address}，即 {label} 启动后 {after}"),
    "dhcp.s.bound": ("bound {address} at {time}", "{time} 绑定 {address}"),
    # explain/outage.py
    "outage.span": ("{duration} ({lost} probes lost, {start} -> {end})",
                    "持续 {duration}（丢失 {lost} 个探测包，{start} -> {end}）"),
    "outage.span_open": ("from {start} to the end of the run ({lost} probes lost)",
                         "从 {start} 到运行结束（丢失 {lost} 个探测包）"),
    "outage.head": ("{src} -> {dst}: outage {span}\n  cause: {cause}",
                    "{src} -> {dst}：通信中断，{span}\n  原因：{cause}"),
    "outage.recovery": ("\n  recovery: {recovery}", "\n  恢复：{recovery}"),
    "outage.announcements": ("\n  announcements: {what}", "\n  通告：{what}"),
    "outage.ann_none": ("{vm}'s migration sent no announcement (no RARP, no GARP)",
                        "{vm} 的迁移没有发出任何通告（没有 RARP，也没有 GARP）"),
    "outage.ann_count": ("{useful} of {vm}'s {total} migration announcement(s) reached a switch",
                         "{vm} 的 {total} 个迁移通告中有 {useful} 个到达交换机"),
    "outage.ann_first_lost": ("; the first lost {kind}: {fate}", "；第一个丢失的 {kind}：{fate}"),
    "explain.stale_entry": (
        "{where} still forwards by an entry it {note} at {time} (frame uid={uid}); the station "
        "is no longer behind that port, and {bridge} has no port left for it: a stale entry "
        "(nothing the station sent since has reached {where} to move it)",
        "{where} 仍按 {time} 建立的表项转发（{note}，帧 uid={uid}）；该站点已不在那个端口后面，"
        "{bridge} 也没有可转发的端口：表项已过时（此后该站点发出的帧都没有到达 {where} 来更新它）"),
    "explain.stale_adjacency": (
        "{where} routed it out of {port} by its ARP adjacency for {ip} ({mac} via {port}: ARP "
        "entry {age} old, egress port set {port_age} before), while its MAC table has had {mac} "
        "on {fdb_port} since {moved}: with on-fdb-move keep a MAC move (a RARP) does not update "
        "the adjacency; only an ARP from {ip} or the entry's timeout does (S10, S9)",
        "{where} 按 {ip} 的 ARP 邻接（{mac}，经 {port}：ARP 表项已存在 {age}，出端口 {port_age} "
        "之前设定）把它从 {port} 路由出去，而它的 MAC 地址表自 {moved} 起已把 {mac} 放在 "
        "{fdb_port}：on-fdb-move keep 时 MAC 迁移（RARP）不会更新邻接；只有来自 {ip} 的 ARP 或表项"
        "超时才会（S10、S9）"),
    "outage.adjacency": ("; {summary}", "；{summary}"),
    "outage.no_explanation": ("no explanation recorded", "没有记录到解释"),
    "outage.trace_off": ("not explained: the run kept no trace (--trace off)",
                         "未解释：本次运行未保留跟踪记录（--trace off）"),
    "outage.dropped": ("dropped at {where} ({reason}): {note} [{fn}, {rule}]",
                       "在 {where} 被丢弃（{reason}）：{note} [{fn}, {rule}]"),
    "outage.relied": ("; it relied on {where}: {note} at {time} [{rule}]",
                      "；该决定依据的是 {where}：{note}，时间 {time} [{rule}]"),
    "outage.from_frame": (", from a frame sent by {where}: {note}", "，来自 {where} 发出的帧：{note}"),
    "outage.learned": ("{where} {note} at {time} (frame {uid}{by}) [{fn}, {rule}]",
                       "{where}：{note}，时间 {time}（帧 {uid}{by}）[{fn}, {rule}]"),
    "outage.flushed": ("{where}: {note} at {time} [{rule}], so it flooded the next frame and it "
                       "reached its destination",
                       "{where}：{note}，时间 {time} [{rule}]，所以它泛洪了下一个帧，该帧到达了目的地"),
    "outage.unknown_unicast": ("{where} flooded it as unknown unicast", "{where} 把它当作未知单播泛洪"),
    # lab.py: findings and expectations
    "finding.loop": ("forwarding loop: copies of frame {uid} ({frame}) keep circulating through "
                     "{cycle}; looping copies were dropped (no STP models a blocked port)",
                     "转发环路：帧 {uid}（{frame}）的副本不断在 {cycle} 之间循环；循环的副本已被丢弃"
                     "（没有模拟生成树 STP 阻塞端口）"),
    "expect.every_reply": ("every reply", "每个请求都有应答"),
    "expect.no_reply": ("no reply", "没有应答"),
    "expect.replies": ("{count} replies", "{count} 个应答"),
    "expect.ping": ("ping {src} -> {dst}: {wanted}", "ping {src} -> {dst}：{wanted}"),
    "expect.ping_actual": ("{replies}/{sent} replies", "{replies}/{sent} 个应答"),
    "expect.at_most": ("at most {duration}", "最多 {duration}"),
    "expect.at_least": ("at least {duration}", "至少 {duration}"),
    "expect.and": (" and ", "且"),
    "expect.no_outage": ("no outage", "没有中断"),
    "expect.never_recovered": ("never recovered", "一直没有恢复"),
    "expect.longest": ("longest {duration}", "最长 {duration}"),
    "expect.outage": ("outage {src} -> {dst}: {bounds}", "中断 {src} -> {dst}：{bounds}"),
    "expect.at_time": (" at {time}", "（{time} 时）"),
    "expect.at_end": (" at the end", "（运行结束时）"),
    "expect.no_entry": ("no entry", "没有表项"),
    "expect.on_port": ("on {port}", "在 {port} 上"),
    "expect.fdb": ("fdb {table} {mac} {wanted}{when}", "转发表 {table} {mac} {wanted}{when}"),
    "expect.by": (" by {duration}", "（{duration} 之内）"),
    "expect.dhcp": ("dhcp {ref}: {result}{address}{when}", "dhcp {ref}：{result}{address}{when}"),
    "expect.dhcp.bound": ("bound", "已绑定"),
    "expect.dhcp.failed": ("failed", "失败"),
    "expect.dhcp.link-local": ("link-local", "链路本地地址"),
    "expect.frames": ("{count} frames", "{count} 个帧"),
    "expect.delivered": ("delivered", "送达"),
    "expect.not_delivered": ("not delivered", "未送达"),
    "expect.frame": ("frame to {to} {filters}: {wanted}", "发往 {to} 的帧 {filters}：{wanted}"),
    "expect.received": ("{count} received", "收到 {count} 个"),
    # cli.py: run
    "cli.col.line": ("line", "行"),
    "cli.col.expectation": ("expectation", "预期"),
    "cli.col.observed": ("observed", "实际结果"),
    "cli.because": ("\n  because: {because}", "\n  原因：{because}"),
    "cli.ok": ("ok", "通过"),
    "cli.fail": ("FAIL", "失败"),
    "cli.ping": ("ping {src} -> {dst}: {sent} sent, {replies} replies",
                 "ping {src} -> {dst}：发送 {sent} 个，收到 {replies} 个应答"),
    "cli.dhcp": ("dhcp {ref} ({label}): {outcome}", "dhcp {ref}（{label}）：{outcome}"),
    "cli.drops": ("drops: {drops}", "丢弃：{drops}"),
    "cli.drop_count": ("{reason} {count}", "{reason} {count} 个"),
    "cli.comma": (", ", "，"),
    "cli.finding": ("[yellow]finding[/] {check}: {summary}", "[yellow]发现[/] {check}：{summary}"),
    "cli.note": ("[dim]note: {note}[/]", "[dim]提示：{note}[/]"),
    "cli.all_hold": ("all expectations hold", "所有预期均成立"),
    "cli.failed": ("{count} expectation(s) FAILED", "{count} 个预期不成立"),
    "cli.summary": ("{name}: {verdict} ({deliveries} frame deliveries, {events} events)",
                    "{name}：{verdict}（{deliveries} 次帧投递，{events} 个事件）"),
    "cli.topology": ("topology", "拓扑"),
    # cli.py: explain
    "migration.head": ("migration of {vm} (started at {time}):",
                       "{vm} 的热迁移（开始于 {time}）："),
    "migration.event": ("  {offset:>9}  {where}: {note} [{fn}, {rule}]",
                        "  {offset:>9}  {where}：{note} [{fn}, {rule}]"),
    "migration.announce": ("  {offset:>9}  {kind} (frame {uid}): {fate}",
                           "  {offset:>9}  {kind}（帧 {uid}）：{fate}"),
    "migration.taught": ("taught {tables}", "更新了 {tables}"),
    "migration.refreshed": ("reached {tables} (entry already right)",
                            "到达 {tables}（表项已正确）"),
    "migration.died": ("dropped at {where} ({reason}): {note} [{rule}]",
                       "在 {where} 被丢弃（{reason}）：{note} [{rule}]"),
    "migration.lost": ("reached no switch", "没有到达任何交换机"),
    "migration.taught_local": ("taught {tables} but reached no switch; its last step: "
                               "{where}: {note}",
                               "更新了 {tables}，但没有到达任何交换机；最后一步：{where}：{note}"),
    "migration.ended": ("reached no switch; its last step: {where}: {note}",
                        "没有到达任何交换机；最后一步：{where}：{note}"),
    "migration.no_announce": ("  no announcement was sent (announce rounds 0, no GUEST_ANNOUNCE)",
                              "  没有发出任何通告（announce rounds 为 0，且没有 GUEST_ANNOUNCE）"),
    "migration.summary": ("  {useful} of {total} announcement(s) reached the physical network",
                          "  {total} 个通告中有 {useful} 个到达了物理网络"),
    "cli.nothing": ("{name}: every expectation holds and every ping got its replies; nothing to "
                    "explain (ask with --ping, --frame, --mac or --dhcp).",
                    "{name}：所有预期均成立，每个 ping 都收到了应答；没有需要解释的内容（可用 --ping、"
                    "--frame、--mac 或 --dhcp 提问）。"),
    # cli.py: import (importers/, docs/import.md)
    "import.note": ("note: {note}", "提示：{note}"),
    "import.error": ("error: {error}", "错误：{error}"),
    "import.nothing": ("nothing was written.", "没有写入任何文件。"),
    "import.summary": ("{path}: {hosts} host(s), {vms} VM(s); {notes} note(s)",
                       "{path}：{hosts} 台宿主机，{vms} 台虚拟机；{notes} 条提示"),
    "import.invalid": ("the imported topology does not load as it is ({count} problem(s)); "
                       "edit the file:",
                       "导入的拓扑目前无法直接加载（{count} 个问题）；请修改文件："),
    # cli.py: catalog
    "cli.catalog_row": ("{name} seed {seed} {description}", "{name} 报告 {seed} {description}"),
    "cli.pass": ("PASS", "通过"),
    "cli.catalog_fail": ("FAIL", "失败"),
    "cli.catalog_run_row": ("{verdict}  {name} {verdicts}", "{verdict}  {name} {verdicts}"),
    "cli.expect_arrow": ("{expected} -> {actual}", "{expected} -> {actual}"),
    "cli.join": ("; ", "；"),
    # cli.py: matrix
    "matrix.title": ("bond mode x switch, host {file}", "绑定模式 x 交换机，宿主机 {file}"),
    "matrix.aggregate": ("aggregate", "聚合方式"),
    "matrix.col.no-lag": ("switch: no LAG", "交换机：无 LAG"),
    "matrix.col.static-lag": ("static LAG (mode on)", "静态 LAG（mode on）"),
    "matrix.col.lacp": ("LACP (individual fallback)", "LACP（独立端口回退）"),
    "matrix.col.lacp-suspend": ("LACP suspend-individual", "LACP suspend-individual"),
    "matrix.works": ("works", "正常"),
    "matrix.degraded": ("degraded", "降级"),
    "matrix.broken": ("broken", "不通"),
    "matrix.cell": ("{verdict} {loss}% loss\nmoves {switch_moves}/{bridge_moves} dups {dups}",
                    "{verdict} 丢包 {loss}%\n迁移 {switch_moves}/{bridge_moves} 重复 {dups}"),
    "matrix.legend": ("moves = MAC moves on the switch / host bridge; dups = duplicate frames to "
                      "VMs. Why: vnetlab explain --matrix ROW/COLUMN",
                      "迁移 = 交换机 / 宿主机网桥上的 MAC 迁移次数；重复 = 虚拟机收到的重复帧数。"
                      "原因：vnetlab explain --matrix ROW/COLUMN"),
    "matrix.reason": ("{row} / {column}: {reason}", "{row} / {column}：{reason}"),
    "matrix.md.cell": ("**{verdict}** {loss}% loss, moves {switch_moves}/{bridge_moves}, dups "
                       "{dups}",
                       "**{verdict}** 丢包 {loss}%，迁移 {switch_moves}/{bridge_moves}，重复 {dups}"),
    "matrix.md.legend": ("moves = MAC moves on the switch / on the host bridge; dups = duplicate "
                         "frames delivered to VMs.",
                         "迁移 = 交换机 / 宿主机网桥上的 MAC 迁移次数；重复 = 投递给虚拟机的重复帧数。"),
    "matrix.md.reason": ("- `{row}` x `{column}`: **{verdict}**: {reason}",
                         "- `{row}` x `{column}`：**{verdict}**：{reason}"),
}

# drop reasons (sim/trace.py DropReason): the token stays, a Chinese label follows
_REASONS: dict[str, str] = {
    "loop-detected": "检测到转发环路",
    "fdb-says-ingress-port": "转发表指向入端口",
    "port-not-forwarding": "端口不在转发状态",
    "port-isolated": "端口隔离",
    "invalid-source-mac": "源 MAC 无效",
    "no-carrier": "无载波",
    "cable-fault": "线缆故障",
    "inactive-port": "非活动端口",
    "no-usable-port": "没有可用端口",
    "not-for-this-host": "不是发给本机的",
    "link-local-not-forwarded": "链路本地组播不转发",
    "neigh-failed": "邻居 ARP 解析失败",
    "no-route": "没有路由",
    "unhandled-protocol": "未处理的协议",
    "lag-member-not-bundled": "LAG 成员端口未聚合",
    "port-err-disabled": "端口被 err-disable",
    "port-security-violation": "违反端口安全",
    "flood-found-no-port": "泛洪无可用端口",
    "vm-not-running": "虚拟机尚未运行",
    "openflow-drop": "OpenFlow 流表丢弃",
    "vlan-ingress-filtered": "VLAN 入方向过滤",
    "vlan-egress-filtered": "VLAN 出方向过滤",
    "vlan-no-device": "没有对应的 VLAN 设备",
    "no-socket": "没有监听的套接字",
    "dhcp-no-address": "DHCP 地址池无可用地址",
    "dhcp-not-expected": "客户端不接受该 DHCP 应答",
    "netfilter-drop": "被防火墙 netfilter 丢弃",
    "pkt-too-big": "报文超过 MTU",
    "giant": "超长帧（giant）",
    "frag-reasm-timeout": "分片重组超时",
    "dst-is-local-address": "目的地址是本机地址",
    "ttl-expired": "TTL 耗尽",
    "arp-glean-drop": "无 ARP 表项，报文丢弃（glean）",
}

# trace actions (sim/trace.py Action), as the FDB verdict shows them (``MOVE: ...``)
_ACTIONS: dict[str, str] = {
    "transmit": "发出", "receive": "接收", "forward": "转发", "flood": "泛洪", "skip": "跳过",
    "deliver": "上送", "learn": "学习", "move": "迁移", "age": "老化", "flush": "清除",
    "drop": "丢弃", "neigh": "邻居", "ping": "ping", "link": "链路", "note": "说明",
    "dhcp": "DHCP",
}

MESSAGES.update({key: {"en": en, "zh": zh} for key, (en, zh) in _CATALOG.items()})
MESSAGES.update({f"reason.{token}": {"en": token, "zh": label}
                 for token, label in _REASONS.items()})
MESSAGES.update({f"action.{name}": {"en": name.upper(), "zh": label}
                 for name, label in _ACTIONS.items()})


def reason(token: object, lang: str = "en", *, brackets: bool = False) -> str:
    """A drop reason as shown: the token in English; in Chinese the token and a label,
    ``token：中文`` (inside a sentence's brackets) or ``token（中文）``, so the token
    operators search for stays."""
    text = str(token)
    if lang == "en":
        return text
    label = MESSAGES.get(f"reason.{text}", {}).get(lang)
    if not label:
        return text
    return f"{text}（{label}）" if brackets else f"{text}：{label}"


def action(name: object, lang: str = "en") -> str:
    """A trace action as a verdict head: ``MOVE`` in English, ``迁移（MOVE）`` in Chinese."""
    text = str(name)
    if lang == "en":
        return text.upper()
    label = MESSAGES.get(f"action.{text}", {}).get(lang)
    return f"{label}（{text.upper()}）" if label else text.upper()


# -- sentence patterns -----------------------------------------------------------------------

# fragments substituted into the pattern sources (%MAC% ...)
_FRAGMENTS = {
    "MAC": r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}",
    "IP": r"\d{1,3}(?:\.\d{1,3}){3}",
    "P": r"[\w.@:/+-]+",                       # a node, port or device name
    "D": r"\d+(?:\.\d+)?\s?(?:ns|us|ms|s|min|h)",   # a time or duration: 8us, 3 s, 41.7s
    "HEX": r"0x[0-9a-f]+",
    "REF": r"\[[^\]]+\]",                      # [fn, rule]
}
_FRAGMENTS["PARTNER"] = rf"{_FRAGMENTS['MAC']} key \d+ port \d+ state [A-Z|]+"
_FRAGMENTS["FRAME"] = rf"{_FRAGMENTS['MAC']} > {_FRAGMENTS['MAC']} .+"

# words and fixed phrases for ``_w`` groups
WORDS: dict[str, str] = {
    # STP / bridge port states (BR_STATE_*, 802.1D)
    "listening": "侦听（listening）", "learning": "学习（learning）",
    "forwarding": "转发（forwarding）", "disabled": "禁用（disabled）",
    "blocking": "阻塞（blocking）",
    # flood kinds (br_flood, 802.1Q 8.6.4)
    "broadcast": "广播", "multicast": "组播", "unknown unicast": "未知单播",
    "local FDB entry": "本地转发表项",
    "port": "端口", "LAG": "聚合组（LAG）",
    # LACP state machines (802.1AX 6.4)
    "mux": "复用（mux）", "receive": "接收（receive）", "periodic": "周期发送（periodic）",
    # bonding receive refusals (bond_should_deliver_exact_match, bond_handle_frame)
    "is a backup (inactive)": "是备用 slave（非活动）",
    "link is down": "链路 down",
    "is multicast/broadcast on a non-active slave": "在非活动 slave 上收到组播/广播",
    # DHCP
    "server or relay": "服务器或中继", "client": "客户端",
    "boot": "开机", "restarted by the scenario": "由场景重启",
    # scenario actions (run:)
    "link-down": "拔掉网线（link-down）", "link-up": "插上网线（link-up）",
    "link-fault": "链路软故障（link-fault）", "port-down": "关闭端口（port-down）",
    "dhcp": "重新启动 DHCP 客户端（dhcp）",
    # netfilter
    "bridged": "桥接的", "sent by the host": "宿主机发出的", "for the host": "发给宿主机的",
    "accepted": "放行", "dropped": "丢弃",
    # STP port behaviour
    "not learned, not forwarded": "不学习，不转发", "learned, not forwarded": "学习，但不转发",
    # LACP suspended / waiting ports (switch)
    "suspended": "被挂起", "waiting": "处于等待状态",
    "short": "短", "long": "长",
    # matrix: what decides mode 3
    "the duplicate delivery of every frame (BD10)": "每个帧都被重复投递（BD10）",
    "the copies flooded back into the host (BD17a)": "泛洪回宿主机的副本（BD17a）",
    "nothing went wrong in this run": "本次运行没有出问题",
}

# (kind, pattern, Chinese template). kind: "step" (a trace step's note, or a clause nested
# in one), "text" (other device sentences shown by the CLI: DHCP outcomes, load warnings),
# "matrix" (clauses of a matrix cell's reason). Most frequent first: the first full match
# whose nested parts all translate wins.
_PATTERNS: list[tuple[str, str, str]] = [
    # frames on the wire (dev_hard_start_xmit, netif_receive_skb, ip_finish_output2)
    ("step", r"transmitted (?P<frame>%FRAME%)", "发出 {frame}"),
    ("step", r"received (?P<frame>%FRAME%)", "收到 {frame}"),
    ("step", r"sent (?P<frame>%FRAME%)", "协议栈发出 {frame}"),
    # forwarding (br_forward, 802.1Q 8.6.4)
    ("step", r"forwarded to (?P<port>%P%) \(MAC table hit for (?P<mac>%MAC%)\)",
     "转发到 {port}（MAC 地址表命中 {mac}）"),
    ("step", r"forwarded to (?P<port>%P%) \(FDB hit for (?P<mac>%MAC%)\)",
     "转发到 {port}（网桥转发表命中 {mac}）"),
    ("step", r"forwarded to (?P<lag>%P%) via (?P<port>%P%) \(LAG hash (?P<hash>[\w+-]+)\) "
             r"\(MAC table hit for (?P<mac>%MAC%)\)",
     "经 {port} 转发到聚合口 {lag}（LAG 哈希 {hash}）（MAC 地址表命中 {mac}）"),
    # ping
    ("step", r"ping (?P<ip>%IP%) seq=(?P<seq>\d+)", "发出 ping {ip} seq={seq}"),
    ("step", r"echo request from (?P<ip>%IP%) seq=(?P<seq>\d+): replying",
     "收到来自 {ip} 的 echo 请求 seq={seq}：回复"),
    ("step", r"echo reply seq=(?P<seq>\d+) from (?P<ip>%IP%), rtt (?P<rtt>%D%)",
     "收到来自 {ip} 的 echo 应答 seq={seq}，rtt {rtt}"),
    ("step", r"DUP! echo reply seq=(?P<seq>\d+) from (?P<ip>%IP%)",
     "DUP! 收到来自 {ip} 的重复 echo 应答 seq={seq}"),
    # aggregates: receive (team_handle_frame, bond_handle_frame) and transmit
    ("step", r"received on (?P<port>%P%), delivered up to (?P<agg>%P%)",
     "从 {port} 收到，上送给 {agg}"),
    ("step", r"transmitted on (?P<port>%P%) \((?P<why_n>.+)\)", "从 {port} 发出（{why_n}）"),
    ("step", r"active-backup \(curr_active_slave\): active port (?P<port>%P%)",
     "active-backup（curr_active_slave）：活动端口 {port}"),
    ("step", r"active-backup \(curr_active_slave\): no active port",
     "active-backup（curr_active_slave）：没有活动端口"),
    ("step", r"(?P<mode>802\.3ad|balance-xor): (?P<policy>layer[\w+]+) hash (?P<hash>\d+) % "
             r"(?P<count>\d+) -> (?P<port>%P%)",
     "{mode}：{policy} 哈希 {hash} % {count} -> {port}"),
    ("step", r"broadcast: a copy on every slave", "broadcast：每个 slave 各发一份"),
    ("step", r"broadcast: a copy on every enabled port", "broadcast：每个已启用的端口各发一份"),
    ("step", r"(?P<mode>balance-alb|balance-tlb): hash bucket (?P<bucket>\d+) is assigned to "
             r"(?P<port>%P%)",
     "{mode}：哈希桶 {bucket} 已分配给 {port}"),
    ("step", r"(?P<mode>balance-alb|balance-tlb): hash bucket (?P<bucket>\d+) assigned to the "
             r"least loaded slave (?P<port>%P%)",
     "{mode}：哈希桶 {bucket} 分配给负载最轻的 slave {port}"),
    ("step", r"balance-alb: ARP not from the bond's own address: not RLB-managed: active port "
             r"(?P<port>%P%)",
     "balance-alb：ARP 不是以 bond 自身地址发出的，不由 RLB 管理：活动端口 {port}"),
    ("step", r"balance-tlb: not balanced: sent on the active slave: active port (?P<port>%P%)",
     "balance-tlb：不做负载均衡，从活动 slave 发出：活动端口 {port}"),
    ("step", r"loadbalance: tx_hash (?P<fields>\S+) = (?P<hash>\d+) % (?P<count>\d+)",
     "loadbalance：tx_hash {fields} = {hash} % {count}"),
    ("step", r"random: port index (?P<index>\d+)", "random：端口序号 {index}"),
    ("step", r"roundrobin: frame #(?P<frame>\d+) -> port index (?P<index>\d+)",
     "roundrobin：第 {frame} 个帧 -> 端口序号 {index}"),
    ("step", r"balance-rr: slave id (?P<id>\d+) % (?P<count>\d+) -> (?P<port>%P%)",
     "balance-rr：slave 编号 {id} % {count} -> {port}"),
    ("step", r"activebackup: active port (?P<port>%P%)", "activebackup：活动端口 {port}"),
    # flooding (br_flood, 802.1Q 8.6.4)
    ("step", r"flooding (?P<kind_w>broadcast|multicast|unknown unicast) (?P<mac>%MAC%)",
     "泛洪{kind_w} {mac}"),
    ("step", r"not flooded back out of ingress (?P<what_w>port|LAG) (?P<port>%P%)",
     "不从入方向{what_w} {port} 泛洪回去"),
    ("step", r"not flooded to (?P<port>%P%): (?P<why_n>.+)", "不泛洪到 {port}：{why_n}"),
    # Open vSwitch (devices/ovs.py: xlate_normal, input_vid_is_valid, flows)
    ("step", r"flow priority=(?P<prio>\d+): (?P<flow>\S+)", "匹配流表 priority={prio}：{flow}"),
    ("step", r"flow added: (?P<flow>\S+)", "添加流表：{flow}"),
    ("step", r"flow (?P<flow>\S+) drops it \(no actions\)", "流表 {flow} 丢弃它（没有动作）"),
    ("step", r"forwarding to learned port (?P<port>%P%) \((?P<mac>%MAC%) in VLAN (?P<vid>\d+)\)",
     "转发到已学习的端口 {port}（{mac}，VLAN {vid}）"),
    ("step", r"no learned MAC for (?P<what_w>broadcast|multicast|unknown unicast) (?P<mac>%MAC%) in "
             r"VLAN (?P<vid>\d+), flooding to (?P<ports>.+)",
     "没有学习到{what_w} {mac}（VLAN {vid}），泛洪到 {ports}"),
    ("step", r"dropping VLAN (?P<vid>\d+) packet received on port (?P<port>%P%) not configured for "
             r"trunking VLAN (?P<vid2>\d+) \(the dead VLAN: the port is not bound yet\)",
     "丢弃端口 {port} 收到的 VLAN {vid} 报文：该端口未配置 trunk VLAN {vid2}（死 VLAN：端口尚未绑定）"),
    ("step", r"unknown unicast (?P<mac>%MAC%) flooded to no port: no other port of (?P<dev>%P%) is "
             r"in VLAN (?P<vid>\d+)", "未知单播 {mac} 泛洪时没有可用端口：{dev} 没有其他端口属于 VLAN {vid}"),
    ("step", r"port (?P<port>%P%) deleted from (?P<br>%P%) with its (?P<n>\d+) MAC entr(?:y|ies)",
     "端口 {port} 已从 {br} 删除，连同它的 {n} 个 MAC 表项"),
    ("step", r"port (?P<port>%P%): (?P<before>.+) -> (?P<after>access, tag \d+)",
     "端口 {port}：{before} -> {after}"),
    ("step", r"os-vif plugged (?P<vm>%P%)'s port (?P<pid>%P%) into (?P<br>%P%) as (?P<port>%P%) on "
             r"the dead VLAN 4095 until the agent binds it",
     "os-vif 把 {vm} 的端口 {pid} 作为 {port} 接入 {br}，在 agent 绑定之前处于死 VLAN 4095"),
    ("step", r"os-vif plugged (?P<vm>%P%)'s port (?P<pid>%P%) into (?P<br>%P%) as (?P<port>%P%)",
     "os-vif 把 {vm} 的端口 {pid} 作为 {port} 接入 {br}"),
    ("step", r"network (?P<net>%P%) \(VLAN (?P<seg>\d+)\) gets local VLAN (?P<lvid>\d+) on "
             r"(?P<host>%P%)", "网络 {net}（VLAN {seg}）在 {host} 上分配到本地 VLAN {lvid}"),
    ("step", r"port_bound: (?P<port>%P%) of (?P<vm>%P%) tagged with local VLAN (?P<lvid>\d+) "
             r"\((?P<net>%P%), VLAN (?P<seg>\d+)\)",
     "port_bound：{vm} 的 {port} 打上本地 VLAN {lvid}（{net}，VLAN {seg}）"),
    ("step", r"port (?P<port>%P%) of (?P<vm>%P%) seen; its binding on (?P<host>%P%) is inactive, so "
             r"it is not wired before Nova activates it \(LP#1901707\)",
     "发现 {vm} 的端口 {port}；它在 {host} 上的绑定未激活，所以在 Nova 激活之前不会接线（LP#1901707）"),
    # live migration, QEMU announce, OpenStack wiring (V3-V7, O1-O7)
    ("step", r"announce round (?P<n>\d+) of (?P<total>\d+)", "通告第 {n} 轮（共 {total} 轮）"),
    ("step", r"QEMU sent RARP announce for (?P<mac>%MAC%) into the tap of (?P<nic>%P%)",
     "QEMU 把 {mac} 的 RARP 通告写入 {nic} 的 tap"),
    ("step", r"VIRTIO_NET_S_ANNOUNCE: guest asked to announce \(round (?P<n>\d+) of "
             r"(?P<total>\d+)\)", "VIRTIO_NET_S_ANNOUNCE：请求客户机发通告（第 {n} 轮，共 {total} 轮）"),
    ("step", r"announce: (?P<rounds>\d+) round\(s\), initial (?P<initial>%D%), step (?P<step>%D%), "
             r"max (?P<max>%D%) \(QEMU_CLOCK_REALTIME\)",
     "通告：{rounds} 轮，initial {initial}，step {step}，max {max}（QEMU_CLOCK_REALTIME）"),
    ("step", r"(?P<vm>%P%) paused for migration to (?P<host>%P%) \(downtime (?P<d>%D%)\)",
     "{vm} 为迁移到 {host} 而暂停（停机时间 {d}）"),
    ("step", r"incoming migration of (?P<vm>%P%) on (?P<host>%P%) complete",
     "{vm} 在 {host} 上的迁入完成"),
    ("step", r"(?P<vm>%P%) resumed on (?P<host>%P%)", "{vm} 在 {host} 上恢复运行"),
    ("step", r"nova live-migration of (?P<vm>%P%) to (?P<host>%P%): pre_live_migration plugs its "
             r"VIFs there", "nova 把 {vm} 热迁移到 {host}：pre_live_migration 在那里插入它的 VIF"),
    ("step", r"memory transfer of (?P<vm>%P%) to (?P<host>%P%) \((?P<d>%D%) before the final "
             r"pause\)", "{vm} 的内存传输到 {host}（最后暂停之前 {d}）"),
    ("step", r"post-live-migration: the binding of (?P<vm>%P%)'s ports on (?P<host>%P%) is "
             r"activated in (?P<d>%D%)", "post-live-migration：{vm} 在 {host} 上的端口绑定将在 {d} 后激活"),
    ("step", r"binding of (?P<vm>%P%)'s ports on (?P<host>%P%) activated",
     "{vm} 在 {host} 上的端口绑定已激活"),
    ("step", r"port (?P<port>%P%) of (?P<vm>%P%) seen; wired in (?P<d>%D%) \(bind-delay\)",
     "发现 {vm} 的端口 {port}；将在 {d} 后完成接线（bind-delay）"),
    ("step", r"waiting for network-vif-plugged from (?P<host>%P%) \(at most (?P<d>%D%)\)",
     "等待 {host} 发来 network-vif-plugged（最多 {d}）"),
    ("step", r"network-vif-plugged received from (?P<host>%P%)", "收到 {host} 发来的 network-vif-plugged"),
    ("step", r"libvirt added (?P<tap>%P%) of (?P<vm>%P%) to (?P<br>%P%); (?P<net>%P%)'s VLAN "
             r"interface is the agent's to add",
     "libvirt 把 {vm} 的 {tap} 加入 {br}；{net} 的 VLAN 接口要由 agent 添加"),
    ("step", r"libvirt added (?P<tap>%P%) of (?P<vm>%P%) to (?P<br>%P%)",
     "libvirt 把 {vm} 的 {tap} 加入 {br}"),
    ("step", r"add_tap_interface: (?P<tap>%P%) of (?P<vm>%P%) added to (?P<br>%P%)",
     "add_tap_interface：{vm} 的 {tap} 已加入 {br}"),
    ("step", r"(?P<br>%P%) created for network (?P<net>%P%)", "为网络 {net} 创建了 {br}"),
    ("step", r"(?P<dev>%P%) created and added to (?P<br>%P%): network (?P<net>%P%) reaches "
             r"(?P<phys>%P%) on VLAN (?P<vid>\d+)",
     "创建 {dev} 并加入 {br}：网络 {net} 经 VLAN {vid} 到达 {phys}"),
    ("step", r"unknown unicast (?P<mac>%MAC%) flooded to no port: every port of (?P<dev>%P%) "
             r"was skipped", "未知单播 {mac} 泛洪后没有任何端口接收：{dev} 的所有端口都被跳过"),
    ("step", r"without a bundled member \(LACP\)", "没有已聚合的成员端口（LACP）"),
    ("step", r"(?P<port>%P%) is (?P<state_w>disabled|blocking|listening|learning)",
     "{port} 处于{state_w}状态"),
    ("step", r"link down", "链路 down"),
    ("step", r"not in vlan (?P<vid>\d+) \((?P<config>[^()]+)\); the frame is in vlan "
             r"(?P<vid2>\d+) from (?P<port>%P%) \((?P<config2>[^()]+)\)",
     "不属于 vlan {vid}（{config}）；该帧来自 {port}，属于 vlan {vid2}（{config2}）"),
    # ARP and neighbours (arp_process, arp_solicit, neigh_*)
    ("step", r"ARP request for our (?P<ip>%IP%) from (?P<src>%IP%): replying",
     "收到 {src} 询问本机地址 {ip} 的 ARP 请求：回复"),
    ("step", r"(?P<arp>ARP (?:who-has %IP% tell %IP%|reply %IP% is-at %MAC%)): not for us, no "
             r"entry to update",
     "{arp}：不是发给本机的，也没有可更新的表项"),
    ("step", r"(?P<packet>IPv4 .+) dropped: (?P<ip>%IP%) unresolved",
     "丢弃 {packet}：{ip} 的地址未解析"),
    ("step", r"broadcast (?P<arp>ARP who-has %IP% tell %IP%)", "广播 {arp}"),
    ("step", r"unicast probe (?P<arp>ARP who-has %IP% tell %IP%)", "单播探测 {arp}"),
    ("step", r"neighbour (?P<ip>%IP%) (?P<state>[A-Z]+): resolving", "邻居 {ip} {state}：正在解析"),
    ("step", r"neighbour (?P<ip>%IP%) FAILED: no ARP reply to (?P<count>\d+) requests",
     "邻居 {ip} FAILED：{count} 次 ARP 请求都没有应答"),
    ("step", r"neighbour (?P<ip>%IP%) (?P<old>[A-Z]+) -> (?P<new>[A-Z]+) lladdr (?P<mac>%MAC%)",
     "邻居 {ip} {old} -> {new}，链路层地址 {mac}"),
    ("step", r"neighbour (?P<ip>%IP%) (?P<old>[A-Z]+) -> (?P<new>[A-Z]+) \(no confirmation\)",
     "邻居 {ip} {old} -> {new}（没有得到可达性确认）"),
    # links
    ("step", r"lost on the faulty link from (?P<port>%P%) \(carrier is up\)",
     "在来自 {port} 的故障链路上丢失（载波仍为 up）"),
    ("step", r"port (?P<port>%P%) link (?P<state>up|down)", "端口 {port} 链路 {state}"),
    ("step", r"link (?P<a>%P%) <-> (?P<b>%P%) faulty: carrier stays up, frames are lost",
     "链路 {a} <-> {b} 故障：载波保持 up，帧全部丢失"),
    ("step", r"link (?P<a>%P%) <-> (?P<b>%P%) unplugged", "链路 {a} <-> {b} 网线被拔出"),
    ("step", r"link (?P<a>%P%) <-> (?P<b>%P%) plugged in", "链路 {a} <-> {b} 网线已插上"),
    ("step", r"(?P<dev>%P%) administratively down", "{dev} 被管理性关闭（administratively down）"),
    # bonding monitors (bond_arp_send, bond_miimon_commit, bond_ab_arp_commit)
    ("step", r"ARP monitor probe on (?P<port>%P%): (?P<arp>ARP .+)",
     "{port} 上的 ARP 监控探测：{arp}"),
    ("step", r"link status definitely (?P<state>up|down) for interface (?P<port>%P%)",
     "接口 {port} 的链路状态确认为 {state}（link status definitely {state}）"),
    ("step", r"link status definitely down for interface (?P<port>%P%): active slave heard "
             r"nothing for (?P<count>\d+) x (?P<interval>%D%)",
     "接口 {port} 的链路状态确认为 down（link status definitely down）：活动 slave 在 "
     "{count} x {interval} 内没有收到任何报文"),
    # FDB (br_fdb_update, br_forward, 802.1Q 8.7)
    ("step", r"FDB says (?P<mac>%MAC%) is on ingress port (?P<port>%P%)",
     "网桥转发表（FDB）显示 {mac} 位于入端口 {port}，帧不会从入端口发回"),
    ("step", r"MAC table says (?P<mac>%MAC%) is on ingress port (?P<port>%P%): filtered",
     "MAC 地址表显示 {mac} 位于入端口 {port}：过滤"),
    ("step", r"moved (?P<mac>%MAC%) from (?P<old>%P%) to (?P<new>%P%)",
     "{mac} 从 {old} 迁移到 {new}"),
    ("step", r"learned (?P<mac>%MAC%) on (?P<port>%P%)", "在 {port} 上学习到 {mac}"),
    ("step", r"learned (?P<mac>%MAC%) on (?P<port>%P%) in vlan (?P<vid>\d+)",
     "在 {port} 上（vlan {vid}）学习到 {mac}"),
    ("step", r"flushed (?P<count>\d+) entries of (?P<port>%P%): (?P<macs>.+)",
     "清除 {port} 上的 {count} 个表项：{macs}"),
    ("step", r"learning packet on (?P<port>%P%)", "在 {port} 上发送学习报文（learning packet）"),
    ("step", r"received packet on (?P<port>%P%) with own address as source address "
             r"\(addr:(?P<mac>%MAC%), vlan:(?P<vid>\d+)\): local entry kept",
     "received packet on {port} with own address as source address (addr:{mac}, vlan:{vid})"
     "（端口收到以本机地址为源地址的报文）：保留本地表项"),
    ("step", r"(?P<mac>%MAC%) is (?P<owner>%P%)'s own address \(a local FDB entry\): the frame "
             r"is passed up to (?P<node>%P%)'s stack and never forwarded, so the station sending "
             r"from (?P<mac2>%MAC%) on (?P<port>%P%) \((?P<rule>[\w.]+)\) never gets it",
     "{mac} 是 {owner} 自己的地址（本地转发表项）：帧被上送到 {node} 的协议栈，永远不会被转发，"
     "所以在 {port} 上以 {mac2} 发送的站点（{rule}）永远收不到它"),
    # bonding / teamd receive refusals (RX_HANDLER_EXACT)
    ("step", r"slave (?P<port>%P%) (?P<why_w>is a backup \(inactive\)|link is down|is "
             r"multicast/broadcast on a non-active slave): RX_HANDLER_EXACT, not delivered to "
             r"(?P<agg>%P%)",
     "slave {port} {why_w}：RX_HANDLER_EXACT，不上送给 {agg}"),
    ("step", r"team port (?P<port>%P%) is not enabled: RX_HANDLER_EXACT, not delivered to "
             r"(?P<agg>%P%)",
     "team 端口 {port} 未启用：RX_HANDLER_EXACT，不上送给 {agg}"),
    ("step", r"team port (?P<port>%P%) is not enabled \(teamd activebackup enables only the "
             r"active port; ab_receive drops the rest too\): RX_HANDLER_EXACT, not delivered to "
             r"(?P<agg>%P%)",
     "team 端口 {port} 未启用（teamd activebackup 只启用活动端口；其余端口收到的帧 ab_receive "
     "也会丢弃）：RX_HANDLER_EXACT，不上送给 {agg}"),
    ("step", r"(?P<mode>balance-alb|balance-tlb): (?P<port>%P%) is not the active slave: source "
             r"MAC rewritten to (?P<port2>%P%)'s own",
     "{mode}：{port} 不是活动 slave：源 MAC 被改写为 {port2} 自己的 MAC"),
    ("step", r"active slave is now (?P<port>%P%) \((?P<port2>%P%) link (?P<state>up|down)\)",
     "活动 slave 现在是 {port}（{port2} 链路 {state}）"),
    ("step", r"active port is now (?P<port>%P%) \((?P<port2>%P%) link (?P<state>up|down)\)",
     "活动端口现在是 {port}（{port2} 链路 {state}）"),
    ("step", r"NETDEV_NOTIFY_PEERS on (?P<dev>%P%): it has no IPv4 address \(it is a port of "
             r"(?P<br>%P%), which does not relay the event\), so no gratuitous ARP is sent; "
             r"switches keep VM MACs on the old port until those MACs transmit again",
     "{dev} 上的 NETDEV_NOTIFY_PEERS：它没有 IPv4 地址（它是 {br} 的端口，{br} 不会传递该事件），"
     "所以不发送免费 ARP；交换机会把虚拟机 MAC 留在旧端口上，直到这些 MAC 再次发送报文"),
    # teamd
    ("step", r"link watch: (?P<port>%P%) link (?P<state>up|down) \(carrier\)",
     "链路监视（link watch）：{port} 链路 {state}（载波）"),
    ("step", r"port (?P<port>%P%) enabled", "端口 {port} 已启用"),
    ("step", r"port (?P<port>%P%) enabled \((?P<why_n>.+)\)", "端口 {port} 已启用（{why_n}）"),
    ("step", r"the active aggregator has no partner", "活动聚合器没有对端"),
    ("step", r"collecting and distributing", "收发（collecting and distributing）"),
    ("step", r"port (?P<port>%P%) disabled", "端口 {port} 已禁用"),
    ("step", r"port (?P<port>%P%) disabled \(not in the active aggregator, or not collecting\)",
     "端口 {port} 已禁用（不在活动聚合器中，或不处于 collecting）"),
    # bridge and switch port states (br_set_state, 802.1D 8.4)
    ("step", r"port (?P<port>%P%) entered (?P<state_w>\w+) state \((?P<why_n>.+)\)",
     "端口 {port} 进入{state_w}状态（{why_n}）"),
    ("step", r"port (?P<port>%P%) entered STP (?P<state_w>\w+) state \((?P<why_n>.+)\)",
     "端口 {port} 进入 STP {state_w}状态（{why_n}）"),
    ("step", r"STP off", "STP 关闭"),
    ("step", r"STP on: listening for forward delay", "STP 开启：先侦听一个转发延迟（forward delay）"),
    ("step", r"forward delay expired", "转发延迟（forward delay）到期"),
    ("step", r"forward delay expired: learning, not forwarding",
     "转发延迟（forward delay）到期：学习，但不转发"),
    ("step", r"(?P<port>%P%) lost carrier or went down", "{port} 失去载波或被关闭"),
    ("step", r"edge port \(PortFast\): forwarding at once", "边缘端口（PortFast）：立即转发"),
    ("step", r"no link", "无链路"),
    ("step", r"link up on a non-edge port: listening for forward-delay (?P<delay>%D%)",
     "非边缘端口链路 up：先侦听 {delay}（forward-delay）"),
    ("step", r"port (?P<port>%P%) is (?P<state_w>listening|blocking|disabled)",
     "端口 {port} 处于{state_w}状态，丢弃"),
    ("step", r"port (?P<port>%P%) is learning: learned, not forwarded",
     "端口 {port} 处于学习（learning）状态：学习源地址，但不转发"),
    ("step", r"port (?P<port>%P%) is in STP (?P<state_w>\w+) state: (?P<what_w>not learned, not "
             r"forwarded|learned, not forwarded)",
     "端口 {port} 处于 STP {state_w}状态：{what_w}"),
    ("step", r"passed up to (?P<dev>%P%)'s own stack \((?P<why_w>broadcast|multicast|local FDB "
             r"entry)\)",
     "上送到 {dev} 本机协议栈（{why_w}）"),
    ("step", r"link-local (?P<mac>%MAC%) not forwarded \(group_fwd_mask (?P<mask>\w+)\): passed "
             r"to (?P<dev>%P%)'s own stack",
     "链路本地组播 {mac} 不转发（group_fwd_mask {mask}）：上送到 {dev} 本机协议栈"),
    ("step", r"reserved group (?P<mac>%MAC%) consumed, not forwarded",
     "保留组播地址 {mac} 由交换机自己处理，不转发"),
    ("step", r"(?P<mac>%MAC%) is not (?P<dev>%P%)'s address: PACKET_OTHERHOST",
     "{mac} 不是 {dev} 的地址：PACKET_OTHERHOST"),
    ("step", r"(?P<ip>%IP%) is not ours \(no forwarding\)", "{ip} 不是本机地址（未开启转发）"),
    # IP forwarding on a router (ip_forward) and an L3 switch's SVIs (devices/l3switch.py)
    ("step", r"routed (?P<src>%IP%) > (?P<dst>%IP%) from (?P<a>%P%) to (?P<b>%P%) "
             r"(?P<via>on-link|via %IP%) \(TTL (?P<ttl>\d+)\)",
     "路由转发 {src} > {dst}：从 {a} 到 {b}，{via}（TTL {ttl}）"),
    ("step", r"routed (?P<src>%IP%) > (?P<dst>%IP%) \((?P<a>%P%) -> (?P<b>%P%)\)",
     "路由 {src} > {dst}（{a} -> {b}）"),
    ("step", r"own packet (?P<src>%IP%) > (?P<dst>%IP%) \((?P<a>%P%)\)",
     "交换机自己的报文 {src} > {dst}（{a}）"),
    ("step", r"refresh request for (?P<ip>%IP%)", "{ip} 的刷新请求"),
    ("step", r"(?P<head_n>.+?): adjacency (?P<ip>%IP%) is-at (?P<mac>%MAC%) via (?P<port>%P%) "
             r"\(ARP entry age (?P<age>%D%), port set (?P<page>%D%) ago; on-fdb-move keep\)",
     "{head_n}：按 ARP 邻接 {ip} is-at {mac} 从 {port} 发出（ARP 表项已存在 {age}，出端口 {page} "
     "前设定；on-fdb-move keep）"),
    ("step", r"(?P<head_n>.+?): adjacency (?P<ip>%IP%) is-at (?P<mac>%MAC%) \(ARP entry age "
             r"(?P<age>%D%)\); MAC table hit: (?P<port>%P%)",
     "{head_n}：ARP 邻接 {ip} is-at {mac}（ARP 表项已存在 {age}）；MAC 地址表命中：{port}"),
    ("step", r"flooding unknown unicast (?P<mac>%MAC%) in vlan (?P<vid>\d+): (?P<head_n>.+), "
             r"adjacency (?P<ip>%IP%) \(ARP entry age (?P<age>%D%)\) outlives the MAC table "
             r"entry \(S9\)",
     "在 vlan {vid} 中泛洪未知单播 {mac}：{head_n}，ARP 邻接 {ip}（ARP 表项已存在 {age}）比 MAC "
     "地址表项活得久（S9）"),
    ("step", r"RARP from (?P<mac>%MAC%) on (?P<port>%P%): it carries no IP address, so the ARP "
             r"cache is not updated \(the MAC table learned it\)",
     "来自 {mac} 的 RARP 从 {port} 进入：它不带 IP 地址，所以 ARP 缓存不更新（只有 MAC 地址表学到了它）"),
    ("step", r"ARP request for (?P<ip>%IP%)", "对 {ip} 的 ARP 请求"),
    ("step", r"ARP reply to (?P<ip>%IP%)", "发给 {ip} 的 ARP 应答"),
    ("step", r"gratuitous ARP", "免费 ARP"),
    ("step", r"ARP (?P<ip>%IP%) is-at (?P<mac>%MAC%) learned from (?P<why_n>.+) on "
             r"(?P<port>%P%): adjacency via (?P<port2>%P%)",
     "ARP {ip} is-at {mac}：从 {port} 上的{why_n}学到；邻接经 {port2}"),
    ("step", r"ARP (?P<ip>%IP%) is-at (?P<mac>%MAC%) via (?P<port>%P%) refreshed by "
             r"(?P<why_n>.+) \(age was (?P<age>%D%)\)",
     "ARP {ip} is-at {mac}（经 {port}）被{why_n}刷新（此前已存在 {age}）"),
    ("step", r"ARP (?P<ip>%IP%) is-at (?P<mac>%MAC%) via (?P<port>%P%) \(was (?P<old>%MAC%) via "
             r"(?P<port0>%P%)\): updated by (?P<why_n>.+)",
     "ARP {ip} is-at {mac}，经 {port}（原为 {old}，经 {port0}）：被{why_n}更新"),
    ("step", r"ARP (?P<ip>%IP%) timed out \(age (?P<age>%D%)\): unicast refresh request "
             r"(?P<n>\d+) of (?P<m>\d+) to (?P<mac>%MAC%)",
     "ARP {ip} 超时（已存在 {age}）：向 {mac} 发出单播刷新请求（第 {n} 个，共 {m} 个）"),
    ("step", r"ARP (?P<ip>%IP%): no reply to (?P<n>\d+) unicast refresh requests to "
             r"(?P<mac>%MAC%): removed; the next packet resolves it by broadcast",
     "ARP {ip}：发往 {mac} 的 {n} 个单播刷新请求都没有应答：表项删除；下一个报文用广播重新解析"),
    ("step", r"adjacency (?P<ip>%IP%) stays on (?P<port>%P%): the MAC table moved (?P<mac>%MAC%) "
             r"to (?P<port2>%P%), the ARP entry is not updated \(on-fdb-move keep\)",
     "邻接 {ip} 仍指向 {port}：MAC 地址表已把 {mac} 移到 {port2}，ARP 表项不更新（on-fdb-move keep）"),
    ("step", r"adjacency (?P<ip>%IP%) follows (?P<mac>%MAC%) from (?P<port>%P%) to (?P<port2>%P%): "
             r"the MAC table moved it \(on-fdb-move refresh\)",
     "邻接 {ip} 随 {mac} 从 {port} 移到 {port2}：MAC 地址表移动了它（on-fdb-move refresh）"),
    ("step", r"no ARP entry for (?P<ip>%IP%) on (?P<svi>%P%): ARP request broadcast in vlan "
             r"(?P<vid>\d+), packet dropped \(glean\)",
     "{svi} 上没有 {ip} 的 ARP 表项：在 vlan {vid} 中广播 ARP 请求，报文丢弃（glean）"),
    ("step", r"sent ARP gratuitous (?P<ip>%IP%) is-at (?P<mac>%MAC%)",
     "发出免费 ARP {ip} is-at {mac}"),
    ("step", r"(?P<bytes>\d+)-byte frame \((?P<payload>\d+) bytes after the Ethernet header\) is "
             r"longer than (?P<dev>%P%)'s MTU (?P<mtu>\d+); it came in on (?P<port>%P%) \(MTU "
             r"(?P<mtu2>\d+)\): is_skb_forwardable\(\) fails, the bridge drops it silently \(no "
             r"ICMP: a bridge is not a router\)",
     "{bytes} 字节的帧（以太网头之后 {payload} 字节）超过 {dev} 的 MTU {mtu}；它从 {port}（MTU "
     "{mtu2}）进入：is_skb_forwardable() 失败，网桥静默丢弃（不回 ICMP：网桥不是路由器）"),
    ("step", r"(?P<br>%P%) MTU (?P<mtu>\d+), the lowest of its ports' \(br_mtu_auto_adjust\); port "
             r"MTUs: (?P<list>.+)",
     "{br} 的 MTU 为 {mtu}，取其端口中最小的值（br_mtu_auto_adjust）；各端口 MTU：{list}"),
    # VLANs (br_allowed_ingress, br_handle_vlan, vlan_do_receive, 802.1Q 6.9 / 8.6.2)
    ("step", r"untagged: access vlan (?P<vid>\d+) of (?P<port>%P%)",
     "未打标签：归入 {port} 的 access vlan {vid}"),
    ("step", r"tagged vlan (?P<vid>\d+): allowed on trunk (?P<port>%P%)",
     "带 vlan {vid} 标签：trunk 端口 {port} 允许该 VLAN"),
    ("step", r"tagged vlan (?P<vid>\d+), queued on (?P<port>%P%)",
     "打上 vlan {vid} 标签，交给 {port} 发送"),
    ("step", r"untagged: vlan (?P<vid>\d+), the PVID of (?P<port>%P%)",
     "未打标签：归入 vlan {vid}（{port} 的 PVID）"),
    ("step", r"vlan (?P<vid>\d+) is tagged: tag kept on (?P<port>%P%)",
     "vlan {vid} 为 tagged：在 {port} 上保留标签"),
    ("step", r"tagged vlan (?P<vid>\d+): a VID of (?P<port>%P%)",
     "带 vlan {vid} 标签：是 {port} 的 VID 之一"),
    ("step", r"vlan (?P<vid>\d+) is untagged: tag stripped on (?P<port>%P%)",
     "vlan {vid} 为 untagged：在 {port} 上剥离标签"),
    ("step", r"vlan (?P<vid>\d+) on (?P<dev>%P%): to (?P<sub>%P%), tag stripped",
     "{dev} 上的 vlan {vid}：交给 {sub}，剥离标签"),
    ("step", r"untagged frame on (?P<port>%P%), which has no PVID \(no VLANs\): in no VLAN, "
             r"dropped",
     "{port} 上收到未打标签的帧，而该端口没有 PVID（未配置 VLAN）：不属于任何 VLAN，丢弃"),
    ("step", r"vlan (?P<vid>\d+) is not allowed on trunk (?P<port>%P%) \((?P<config>[^()]+)\): "
             r"dropped",
     "trunk 端口 {port} 不允许 vlan {vid}（{config}）：丢弃"),
    # LACP (802.1AX 6.4, bond_3ad.c, teamd lacp runner)
    ("step", r"(?P<port>%P%): (?P<rest_n>(?:mux|receive|periodic) machine .+|LACPDU from partner "
             r".+|unselected .+|waiting to be aggregated.+|suspended .+|bundled in .+)",
     "{port}：{rest_n}"),
    ("step", r"(?P<machine_w>mux|receive|periodic) machine (?P<old>[\w-]+) -> (?P<new>[\w-]+) "
             r"\((?P<why_n>.+)\)",
     "{machine_w}状态机 {old} -> {new}（{why_n}）"),
    ("step", r"(?P<machine_w>mux|receive|periodic) machine (?P<old>[\w-]+) -> (?P<new>[\w-]+) "
             r"\((?P<why_n>[^()]+)\): (?P<then_n>.+)",
     "{machine_w}状态机 {old} -> {new}（{why_n}）：{then_n}"),
    ("step", r"selected", "已选中（selected）"),
    ("step", r"unselected", "未选中（unselected）"),
    ("step", r"wait_while expired: ready", "wait_while 到期：ready"),
    ("step", r"partner in sync", "对端已同步"),
    ("step", r"begin", "初始化（begin）"),
    ("step", r"link up; partner out of sync, DEFAULTED in (?P<delay>%D%) unless a LACPDU comes",
     "链路 up；对端未同步，{delay} 内收不到 LACPDU 就进入 DEFAULTED"),
    ("step", r"current_while expired again: no LACP partner, partner information set to the "
             r"administrative default",
     "current_while 再次到期：没有 LACP 对端，对端信息设为管理默认值"),
    ("step", r"partner (?P<which_w>short|long) timeout", "对端{which_w}超时"),
    ("step", r"a LACPDU every (?P<period>%D%)", "每 {period} 发送一个 LACPDU"),
    ("step", r"current_while (?P<time>%D%)", "current_while {time}"),
    ("step", r"LACPDU from partner (?P<partner>%PARTNER%): (?P<then_n>.+)",
     "收到对端 {partner} 的 LACPDU：{then_n}"),
    ("step", r"current_while restarted \((?P<time>%D%)\)", "current_while 重新计时（{time}）"),
    ("step", r"unselected \(partner changed to (?P<partner>%PARTNER%)\)",
     "未选中（unselected）（对端变为 {partner}）"),
    ("step", r"unselected \(partner information defaulted\)",
     "未选中（unselected）（对端信息为默认值）"),
    ("step", r"waiting to be aggregated: no traffic \(no LACPDU from a partner yet\)",
     "等待聚合：不转发流量（尚未收到对端的 LACPDU）"),
    ("step", r"suspended \((?P<why_n>.+)\)", "被挂起（{why_n}）"),
    ("step", r"bundled in (?P<po>%P%) \(LACP partner (?P<partner>%PARTNER%)\)",
     "加入聚合组 {po}（LACP 对端 {partner}）"),
    ("step", r"no LACP partner \(DEFAULTED\); lacp-fallback suspend \(lacp suspend-individual\): "
             r"only LACPDUs pass",
     "没有 LACP 对端（DEFAULTED）；lacp-fallback suspend（lacp suspend-individual）：只放行 LACPDU"),
    ("step", r"no LACPDU from a partner yet", "尚未收到对端的 LACPDU"),
    ("step", r"(?P<port>%P%) is (?P<state_w>suspended|waiting) \((?P<why_n>.+)\): not a port of "
             r"(?P<po>%P%) or an individual port, frame dropped",
     "{port} {state_w}（{why_n}）：既不是 {po} 的成员端口，也不是独立端口，丢弃帧"),
    ("step", r"LACPDU out of (?P<port>%P%) \((?P<why_n>[^()]+)\): (?P<pdu>LACPDU .+)",
     "从 {port} 发出 LACPDU（{why_n}）：{pdu}"),
    ("step", r"periodic", "周期发送"),
    ("step", r"actor state changed", "本端状态变化"),
    ("step", r"partner has stale information about us", "对端持有本端的过时信息"),
    ("step", r"LACP on (?P<port>%P%): actor (?P<actor>%PARTNER%)", "{port} 上的 LACP：本端 {actor}"),
    ("step", r"aggregator selection timer expired", "聚合器选择定时器到期"),
    ("step", r"active aggregator is now individual (?P<port>%P%): No 802\.3ad response from the "
             r"link partner for any adapters in the bond; one link carries all traffic",
     "活动聚合器现在是独立端口 {port}：No 802.3ad response from the link partner for any adapters "
     "in the bond（链路对端没有任何 802.3ad 响应）；由一条链路承载全部流量"),
    ("step", r"active aggregator is now the aggregator of partner (?P<mac>%MAC%) key (?P<key>\d+) "
             r"\((?P<ports>[^()]+)\)",
     "活动聚合器现在是对端 {mac} key {key} 的聚合器（{ports}）"),
    ("step", r"(?P<po>%P%): aggregator now for partner (?P<mac>%MAC%) key (?P<key>\d+)",
     "{po}：聚合器现在对应对端 {mac} key {key}"),
    # netfilter (nf_hook_slow, br_nf_forward_ip)
    ("step", r"(?P<what_w>bridged|sent by the host|for the host) IPv4 (?P<verdict_w>accepted|"
             r"dropped) by (?P<label>.+?) policy (?P<policy>ACCEPT|DROP) \(no rule matched: "
             r"(?P<count>\d+) rules checked; via (?P<path>.+)\)",
     "{what_w} IPv4 报文被 {label} 的默认策略 {policy} {verdict_w}（没有规则匹配：检查了 {count} "
     "条规则；经过 {path}）"),
    ("step", r"(?P<what_w>bridged|sent by the host|for the host) IPv4 (?P<verdict_w>accepted|"
             r"dropped) by (?P<chain>.+?) rule (?P<number>\d+): (?P<rule>.+?) via (?P<path>.+)",
     "{what_w} IPv4 报文被 {chain} 的第 {number} 条规则{verdict_w}：{rule}，经过 {path}"),
    # scenario actions (lab.py describe_action)
    ("step", r"run\[(?P<index>\d+)\]: ping (?P<src>%P%) -> (?P<dst>%IP%) count (?P<count>\d+) "
             r"interval (?P<interval>%D%) size (?P<size>\d+)",
     "场景动作 run[{index}]：ping {src} -> {dst}，共 {count} 次，间隔 {interval}，大小 {size} 字节"),
    ("step", r"run\[(?P<index>\d+)\]: (?P<kind_w>[\w-]+) (?P<what>%P%)",
     "场景动作 run[{index}]：{kind_w} {what}"),
    # DHCP clients (NetworkManager/n-dhcp4, Windows, iPXE)
    ("step", r"(?P<program>.+?) starts on (?P<dev>%P%) \((?P<why_w>.+)\)",
     "{program} 在 {dev} 上启动（{why_w}）"),
    ("step", r"activation #(?P<n>\d+): (?P<log>dhcp4 \(%P%\): beginning transaction "
             r"\(timeout in (?P<timeout>\d+) seconds\))",
     "第 {n} 次激活：{log}（开始获取租约，{timeout} 秒超时）"),
    ("step", r"activation #(?P<n>\d+) succeeded: device activated", "第 {n} 次激活成功：设备已激活"),
    ("step", r"(?P<log>dhcp4 \(%P%\): timeout getting lease after (?P<timeout>\d+) s): "
             r"device state failed \(reason '(?P<reason>[\w-]+)'\)",
     "{log}（{timeout} 秒内没有获得租约）：设备状态 failed（reason '{reason}'）"),
    ("step", r"failed to autoconnect; (?P<count>\d+) tries left", "自动连接失败；还剩 {count} 次尝试"),
    ("step", r"send DISCOVER to (?P<ip>%IP%) \(xid (?P<xid>%HEX%), #(?P<n>\d+) of activation "
             r"(?P<act>\d+), next in (?P<next>%D%)\)",
     "发送 DISCOVER 到 {ip}（xid {xid}，第 {act} 次激活中的第 {n} 个，{next} 后发下一个）"),
    ("step", r"send REQUEST for (?P<addr>%IP%) to (?P<ip>%IP%) \(xid (?P<xid>%HEX%), #(?P<n>\d+) "
             r"of activation (?P<act>\d+), next in (?P<next>%D%)\)",
     "发送 REQUEST 请求 {addr}，发往 {ip}（xid {xid}，第 {act} 次激活中的第 {n} 个，{next} 后发下一个）"),
    ("step", r"received OFFER of (?P<ip>%IP%) from (?P<server>%IP%): selecting it",
     "收到 {server} 提供的 OFFER（{ip}）：选择它"),
    ("step", r"received ACK of (?P<ip>%IP%): GRANTED; address conflict detection for "
             r"(?P<time>%D%) \(ipv4\.dad-timeout\)",
     "收到 {ip} 的 ACK：GRANTED；进行 {time} 的地址冲突检测（ipv4.dad-timeout）"),
    ("step", r"bound (?P<cidr>%IP%/\d+) lease (?P<lease>\w+), router (?P<router>%IP%)",
     "获得地址 {cidr}，租期 {lease}，网关 {router}"),
    ("step", r"DHCPOFFER xid (?P<xid>%HEX%) ignored: xid does not match the current request's "
             r"(?P<current>%HEX%)",
     "忽略 DHCPOFFER xid {xid}：与当前请求的 xid {current} 不匹配"),
    ("step", r"DHCPDISCOVER \(xid (?P<xid>%HEX%), #(?P<n>\d+) of attempt (?P<attempt>\d+), next "
             r"in (?P<next>%D%)\)",
     "发送 DHCPDISCOVER（xid {xid}，第 {attempt} 轮尝试中的第 {n} 个，{next} 后发下一个）"),
    ("step", r"DHCPDISCOVER \(xid (?P<xid>%HEX%), #(?P<n>\d+) of attempt (?P<attempt>\d+), "
             r"attempt over in (?P<left>%D%)\)",
     "发送 DHCPDISCOVER（xid {xid}，第 {attempt} 轮尝试中的第 {n} 个，本轮尝试 {left} 后结束）"),
    ("step", r"DHCPOFFER of (?P<ip>%IP%) from (?P<server>%IP%)", "收到 {server} 提供的 DHCPOFFER（{ip}）"),
    ("step", r"DHCPREQUEST for (?P<ip>%IP%) \(xid (?P<xid>%HEX%), #(?P<n>\d+)\)",
     "发送 DHCPREQUEST 请求 {ip}（xid {xid}，第 {n} 个）"),
    ("step", r"DHCPACK of (?P<ip>%IP%)", "收到 {ip} 的 DHCPACK"),
    ("step", r"no DHCPOFFER after (?P<count>\d+) DHCPDISCOVERs: the attempt failed; retrying in "
             r"(?P<minutes>\d+) minutes",
     "发送 {count} 个 DHCPDISCOVER 后仍没有 DHCPOFFER：本轮尝试失败；{minutes} 分钟后重试"),
    ("step", r"autoconfiguration address (?P<ip>%IP%/\d+) \(APIPA, RFC 3927 (?P<range>%IP%-%IP%)\), "
             r"no gateway",
     "自动配置地址 {ip}（APIPA，RFC 3927 {range}），没有网关"),
    ("step", r"(?P<log>Configuring \(\w+ %MAC%\)): start_dhcp, xid (?P<xid>%HEX%) for the whole "
             r"session",
     "{log}：start_dhcp，整个会话使用 xid {xid}"),
    ("step", r"(?P<msg>DHCPDISCOVER) \(xid (?P<xid>%HEX%), timer expiry #(?P<n>\d+) of the session, "
             r"(?P<timeout_n>timeout .+)\)",
     "发送 {msg}（xid {xid}，本会话第 {n} 次定时器到期，{timeout_n}）"),
    ("step", r"DHCPREQUEST for (?P<ip>%IP%) to (?P<server>%IP%) \(xid (?P<xid>%HEX%), timer expiry "
             r"#(?P<n>\d+) of the session, (?P<timeout_n>timeout .+)\)",
     "发送 DHCPREQUEST 请求 {ip}，发往 {server}（xid {xid}，本会话第 {n} 次定时器到期，{timeout_n}）"),
    ("step", r"timeout (?P<timeout>%D%): next at (?P<next>%D%)", "超时 {timeout}：下一次在 {next}"),
    ("step", r"timeout (?P<timeout>%D%): fails at (?P<at>%D%) if unanswered: (?P<next>%D%) would "
             r"exceed (?P<limit>%D%)",
     "超时 {timeout}：若无应答则在 {at} 失败：下一次退避 {next} 将超过 {limit}"),
    ("step", r"DHCPOFFER of (?P<ip>%IP%) from (?P<server>%IP%) held; no PXEClient vendor class: "
             r"waiting for ProxyDHCP offers until (?P<until>%D%) into discovery "
             r"\(DHCP_DISC_PROXY_TIMEOUT_SEC\)",
     "暂存 {server} 提供的 DHCPOFFER（{ip}）；它不带 PXEClient 厂商类：继续等待 ProxyDHCP 提供，"
     "直到发现阶段开始后 {until}（DHCP_DISC_PROXY_TIMEOUT_SEC）"),
    ("step", r"no ProxyDHCP offer (?P<after>%D%) into discovery \(DHCP_DISC_PROXY_TIMEOUT_SEC "
             r"(?P<limit>\d+)\): requesting (?P<ip>%IP%)",
     "发现阶段开始 {after} 后仍没有 ProxyDHCP 提供（DHCP_DISC_PROXY_TIMEOUT_SEC {limit}）：请求 {ip}"),
    ("step", r"DHCPACK of (?P<ip>%IP%) from (?P<server>%IP%): settings registered, "
             r"(?P<fn>dhcp_finished\(\d+\))",
     "收到 {server} 的 DHCPACK（{ip}）：配置已登记，{fn}"),
    ("step", r"retry timer backed off to (?P<next>%D%) > (?P<limit>%D%): (?P<fn>dhcp_finished\(.+)",
     "重试定时器退避到 {next} > {limit}：{fn}"),
    ("step", r"(?P<log>Configuring \(\w+ %MAC%\)\.+ No configuration methods succeeded "
             r"\(https://ipxe\.org/\w+\))",
     "{log}（iPXE 屏幕输出：没有任何配置方法成功）"),
    ("step", r"(?P<log>Press Ctrl-B for the iPXE command line\.\.\.) \((?P<wait>%D%), not pressed\): "
             r"netboot failed, the ROM returns to the BIOS, which boots the next device \(none: "
             r"SeaBIOS prints (?P<msg>\"No bootable device\.\")\)",
     "{log}（{wait}，没有按下）：网络启动失败，ROM 返回 BIOS，由 BIOS 引导下一个设备（没有设备："
     "SeaBIOS 显示 {msg}）"),
    # DHCP server (dnsmasq dhcp_reply, do_icmp_ping) and relay (do_relay4)
    ("step", r"(?P<log>DHCP(?:DISCOVER|REQUEST)\(%P%\) %MAC%(?: %IP%)? xid %HEX%)", "收到 {log}"),
    ("step", r"(?P<log>DHCPOFFER\(%P%\) %MAC% %IP%) lease (?P<lease>\w+): (?P<why_n>[^;]+); "
             r"(?P<how_n>.+)",
     "{log} 租期 {lease}：{why_n}；{how_n}"),
    ("step", r"(?P<log>DHCPACK\(%P%\) %MAC% %IP%) lease (?P<lease>\w+) until (?P<until>%D%); "
             r"(?P<how_n>.+)",
     "{log} 租期 {lease}，到 {until} 为止；{how_n}"),
    ("step", r"free in (?P<range>%IP%-%IP%) \(address_allocate\)",
     "地址池 {range} 中的空闲地址（address_allocate）"),
    ("step", r"reserved for this MAC \(dhcp-host\)", "为该 MAC 保留的地址（dhcp-host）"),
    ("step", r"unicast to (?P<mac>%MAC%) / (?P<ip>%IP%) \(broadcast bit clear; ARP entry "
             r"injected, not resolved\)",
     "单播发往 {mac} / {ip}（广播标志位未置位；直接写入 ARP 表项，不做解析）"),
    ("step", r"to relay (?P<relay>%IP%:\d+)", "发给中继 {relay}"),
    ("step", r"broadcast \(the client set the broadcast bit\)", "广播发送（客户端设置了广播标志位）"),
    ("step", r"(?P<log>DHCPDISCOVER\(%P%\) %MAC%): queued, dnsmasq is waiting for its ping of "
             r"(?P<ip>%IP%) \(delay_dhcp\)",
     "{log}：排队，dnsmasq 正在等待对 {ip} 的 ping 检测结果（delay_dhcp）"),
    ("step", r"(?P<log>DHCPDISCOVER\(%P%\) %MAC%): no address available: range "
             r"(?P<range>%IP%-%IP%) \((?P<size>\d+) addresses\) is exhausted \((?P<leased>\d+) "
             r"leased, (?P<reserved>\d+) reserved\): no DHCPOFFER",
     "{log}：no address available（地址池没有可用地址）：地址池 {range}（共 {size} 个地址）已耗尽"
     "（已租出 {leased} 个，保留 {reserved} 个）：不发送 DHCPOFFER"),
    ("step", r"pinging (?P<ip>%IP%) before offering it; deaf to DHCP for up to (?P<time>%D%) "
             r"\(do_icmp_ping, delay_dhcp\)",
     "提供 {ip} 之前先 ping 它；期间最多 {time} 不处理 DHCP（do_icmp_ping, delay_dhcp）"),
    ("step", r"ICMP echo request id=(?P<id>\d+) to (?P<ip>%IP%)", "向 {ip} 发送 ICMP echo 请求 id={id}"),
    ("step", r"no answer to the ping of (?P<ip>%IP%) in (?P<time>%D%): free",
     "{time} 内 ping {ip} 没有应答：地址空闲"),
    ("step", r"no socket on UDP port (?P<port>\d+) \(no DHCP (?P<who_w>server or relay|client) "
             r"here\)",
     "UDP 端口 {port} 上没有套接字（这里没有 DHCP {who_w}）"),
    ("step", r"relaying (?P<msg>DHCP[A-Z]+) xid (?P<xid>%HEX%) from (?P<mac>%MAC%) to "
             r"(?P<server>%IP%) \(giaddr (?P<giaddr>%IP%)\)",
     "中继 {msg} xid {xid}：把来自 {mac} 的请求转发给 {server}（giaddr {giaddr}）"),
    ("step", r"relaying (?P<msg>DHCP[A-Z]+) xid (?P<xid>%HEX%) to the client on (?P<dev>%P%): "
             r"unicast to (?P<mac>%MAC%) / (?P<ip>%IP%)",
     "中继 {msg} xid {xid} 给 {dev} 上的客户端：单播发往 {mac} / {ip}"),
    # -- other device sentences the CLI shows (DHCP outcome lines, load warnings)
    ("text", r"bound (?P<ip>%IP%) at (?P<time>%D%) \(lease (?P<lease>\w+), (?P<count>\d+) "
             r"DISCOVERs? sent\)",
     "{time} 获得 {ip}（租期 {lease}，共发送 {count} 个 DISCOVER）"),
    ("text", r"no address: no lease after (?P<count>\d+) DISCOVERs?; gave up at (?P<time>%D%): "
             r"(?P<why_n>.+)",
     "没有地址：发送 {count} 个 DISCOVER 后仍没有租约；{time} 放弃：{why_n}"),
    ("text", r"link-local (?P<ip>%IP%) \(APIPA\) since (?P<time>%D%): no DHCP answer to "
             r"(?P<count>\d+) DISCOVERs?; gave up at (?P<time2>%D%): (?P<why_n>.+)",
     "自 {time} 起使用链路本地地址 {ip}（APIPA）：{count} 个 DISCOVER 都没有 DHCP 应答；{time2} "
     "放弃：{why_n}"),
    ("text", r"(?P<reason>ip-config-unavailable) \(no lease in (?P<time>%D%)\)",
     "{reason}（{time} 内没有获得租约）"),
    ("text", r"no DHCP answer in about (?P<time>%D%)", "大约 {time} 内没有 DHCP 应答"),
    ("text", r"no DHCPOFFER to (?P<count>\d+) DISCOVERs? (?P<after>%D%) into discovery \(retry "
             r"timer past (?P<limit>%D%)\)",
     "发现阶段开始 {after} 后，{count} 个 DISCOVER 仍没有 DHCPOFFER（重试定时器超过 {limit}）"),
    ("text", r"bound (?P<ip>%IP%) since (?P<time>%D%)", "自 {time} 起绑定 {ip}"),
    ("text", r"link-local \(APIPA\) (?P<ip>%IP%) since (?P<time>%D%)",
     "自 {time} 起使用链路本地地址（APIPA）{ip}"),
    ("text", r"no address at (?P<time>%D%) \((?P<count>\d+) DISCOVERs?\)",
     "{time} 时没有地址（发送了 {count} 个 DISCOVER）"),
    ("text", r"no address at (?P<time>%D%) \((?P<count>\d+) DISCOVERs?; gave up at "
             r"(?P<time2>%D%): (?P<why_n>.+)\)",
     "{time} 时没有地址（发送了 {count} 个 DISCOVER；{time2} 放弃：{why_n}）"),
    ("text", r"(?P<path>[\w.\[\]-]+): iptables table (?P<table>\w+): parsed, not evaluated "
             r"\(vnetlab models the filter table; no NAT\), (?P<count>\d+) rules",
     "{path}：iptables 表 {table}：已解析，不执行（vnetlab 只模拟 filter 表，不做 NAT），共 {count} "
     "条规则"),
    ("text", r"WARNING: MAC (?P<mac>%MAC%) is used (?P<count>\d+) times: (?P<users>.+)\. A MAC must "
             r"be unique on its L2 segment: bridges and switches will move it between ports "
             r"\(B7\.4, S6\), and a device's own MAC is a local entry that is never forwarded "
             r"\(B4\.4, B7\.3\)",
     "警告：MAC {mac} 被使用了 {count} 次：{users}。MAC 在它所在的二层网段内必须唯一：网桥和交换机会"
     "在端口之间迁移它（B7.4, S6），而设备自己的 MAC 是本地表项，永远不会被转发（B4.4, B7.3）"),
    # -- clauses of a matrix cell's reason (matrix._reason)
    ("matrix", r"(?P<src>%P%) -> (?P<dst>%IP%) lost (?P<lost>\d+/\d+): dropped at (?P<where>%P%) "
               r"\((?P<reason>[\w-]+)\) (?P<ref>%REF%)",
     "{src} -> {dst} 丢失 {lost}：在 {where} 被丢弃（{reason}）{ref}"),
    ("matrix", r"(?P<src>%P%) -> (?P<dst>%IP%) lost (?P<lost>\d+/\d+): dropped at (?P<where>%P%) "
               r"\((?P<reason>[\w-]+)\) (?P<ref>%REF%) because (?P<cwhere>%P%) (?P<cnote_n>.+) "
               r"\(frame (?P<uid>\d+)\) (?P<cref>%REF%)",
     "{src} -> {dst} 丢失 {lost}：在 {where} 被丢弃（{reason}）{ref}，原因是 {cwhere}：{cnote_n}"
     "（帧 {uid}）{cref}"),
    ("matrix", r"(?P<src>%P%) -> (?P<dst>%IP%) lost (?P<lost>\d+/\d+): dropped at (?P<where>%P%) "
               r"\((?P<reason>[\w-]+)\) (?P<ref>%REF%) because (?P<cwhere>%P%) (?P<cnote_n>.+) "
               r"(?P<cref>%REF%)",
     "{src} -> {dst} 丢失 {lost}：在 {where} 被丢弃（{reason}）{ref}，原因是 {cwhere}：{cnote_n} "
     "{cref}"),
    ("matrix", r"(?P<count>\d+) duplicate frames reached VMs \(e\.g\. frame (?P<uid>\d+) reached "
               r"(?P<vm>%P%) twice: the copies parted at (?P<where>%P%): (?P<note_n>.+) "
               r"(?P<ref>%REF%)\)",
     "{count} 个重复帧到达虚拟机（例如帧 {uid} 两次到达 {vm}：副本在 {where} 分开：{note_n} {ref}）"),
    ("matrix", r"(?P<count>\d+) duplicate frames reached VMs \(e\.g\. (?P<vm>%P%) got a DUP! "
               r"reply, frame (?P<uid>\d+): its request left (?P<where>%P%) on (?P<port>%P%) as "
               r"well \((?P<note_n>.+)\) (?P<ref>%REF%) and the gateway answered every copy\)",
     "{count} 个重复帧到达虚拟机（例如 {vm} 收到 DUP! 应答，帧 {uid}：它的请求也从 {where} 的 "
     "{port} 发出了（{note_n}）{ref}，网关对每个副本都做了应答）"),
    ("matrix", r"(?P<count>\d+) VM flow\(s\) switched port frame by frame over (?P<ports>.+?) "
               r"\(e\.g\. frame (?P<uid>\d+)\) (?P<ref>%REF%): a TCP flow would see reordering",
     "{count} 条虚拟机流在 {ports} 之间逐帧切换端口（例如帧 {uid}）{ref}：TCP 流会出现乱序"),
    ("matrix", r"(?P<count>\d+) VM frames left a non-active slave with the slave's MAC as source "
               r"\(e\.g\. frame (?P<uid>\d+)\) (?P<ref>%REF%): the network sees VM IPs behind a "
               r"host NIC MAC \(port security / IP source guard break\)",
     "{count} 个虚拟机帧从非活动 slave 发出，源 MAC 被改成该 slave 的 MAC（例如帧 {uid}）{ref}："
     "网络会看到虚拟机 IP 出现在宿主机网卡 MAC 之后（端口安全 / IP source guard 会出问题）"),
    ("matrix", r"sources disagree on mode 3 \(RHV 4\.x: compatible, RHEL 6/7: must not be used\): "
               r"what decides it here is (?P<what_w>.+)",
     "各方资料对 mode 3 的说法不一（RHV 4.x：兼容；RHEL 6/7：不得使用）：这里起决定作用的是{what_w}"),
    ("matrix", r"all (?P<count>\d+) probes answered", "全部 {count} 个探测包都得到了应答"),
    ("matrix", r"frames sent by (?P<agg>%P%): (?P<used>[^\[\]]+) (?P<ref>%REF%)",
     "{agg} 发出的帧：{used} {ref}"),
    ("matrix", r"what the switch sent back was stopped: frame (?P<uid>\d+) at (?P<where>%P%) "
               r"\((?P<note_n>.+)\) (?P<ref>%REF%)",
     "交换机发回的帧被拦下：帧 {uid} 在 {where}（{note_n}）{ref}"),
    ("matrix", r"no MAC moved, no flow striped and no frame reached a VM twice",
     "没有 MAC 迁移，没有流被拆到多个端口，也没有帧两次到达虚拟机"),
]


@dataclass(frozen=True, slots=True)
class Pattern:
    index: int
    kind: str
    regex: re.Pattern[str]
    zh: str


def _compile(source: str) -> re.Pattern[str]:
    for name, fragment in _FRAGMENTS.items():
        source = source.replace(f"%{name}%", fragment)
    return re.compile(source)


PATTERNS: tuple[Pattern, ...] = tuple(Pattern(i, kind, _compile(source), zh)
                                      for i, (kind, source, zh) in enumerate(_PATTERNS))


def _apply(text: str, used: list[int] | None) -> str | None:
    """The Chinese of ``text`` by the first pattern that translates it whole, else None;
    ``used`` collects the indexes of the patterns that did (nested ones too)."""
    for pattern in PATTERNS:
        match = pattern.regex.fullmatch(text)
        if match is None:
            continue
        mine: list[int] | None = [] if used is not None else None
        values: dict[str, str] = {}
        for name, value in match.groupdict().items():
            value = value or ""
            if name.endswith("_n"):
                nested = _apply(value, mine)
                if nested is None:
                    break
                value = nested
            elif name.endswith("_w"):
                word = WORDS.get(value)
                if word is None:
                    break
                value = word
            values[name] = value
        else:
            if used is not None and mine is not None:
                used.extend(mine)
                used.append(pattern.index)
            return pattern.zh.format(**values)
    return None


def _translate(text: str, used: list[int] | None = None) -> str | None:
    """``_apply``, or clause by clause for a sentence joined with "; " (the longest
    translatable run of clauses first; every clause must translate)."""
    whole = _apply(text, used)
    if whole is not None or "; " not in text:
        return whole
    clauses = text.split("; ")
    memo: dict[int, tuple[list[str], list[int]] | None] = {}

    def rest(start: int) -> tuple[list[str], list[int]] | None:
        if start == len(clauses):
            return [], []
        if start not in memo:
            memo[start] = None
            for end in range(len(clauses), start, -1):
                if end - start == len(clauses):
                    continue                    # the whole text: tried above
                hits: list[int] = []
                head = _apply("; ".join(clauses[start:end]), hits)
                if head is None:
                    continue
                tail = rest(end)
                if tail is not None:
                    memo[start] = ([head, *tail[0]], hits + tail[1])
                    break
        return memo[start]

    found = rest(0)
    if found is None:
        return None
    if used is not None:
        used.extend(found[1])
    return "；".join(found[0])


@lru_cache(maxsize=8192)
def _zh(text: str) -> str | None:
    return _translate(text)


def note(text: str, lang: str = "en") -> str:
    """A trace step's sentence in ``lang`` (English kept when no pattern covers it)."""
    if lang == "en" or not text:
        return text
    translated = _zh(text)
    return text if translated is None else translated


def patterns_used(text: str) -> list[int] | None:
    """The indexes of the patterns that translate ``text`` (nested ones included), or
    None if it stays English: for the coverage and dead-pattern tests."""
    used: list[int] = []
    return used if _translate(text, used) is not None else None


# -- the built-in cases' texts ---------------------------------------------------------------

@lru_cache(maxsize=1)
def _case_texts() -> dict[str, Any]:
    from importlib import resources

    from ruamel.yaml import YAML

    text = resources.files("vnetlab.catalog").joinpath("zh.yaml").read_text(encoding="utf-8")
    data = YAML(typ="safe").load(text)
    return dict(data or {})


def case_text(spec: Any, lang: str) -> tuple[str | None, list[str | None]]:
    """A built-in case's description and ``because:`` texts in ``lang`` (catalog/zh.yaml),
    or (None, []) when ``spec`` is not a built-in case file or the language is English.
    A copy of a case elsewhere keeps its own (English) texts: it may have been edited."""
    if lang == "en":
        return None, []
    from pathlib import Path

    from vnetlab.catalog import case_paths

    locator = getattr(spec, "locator", None)
    path = case_paths().get(getattr(spec, "name", ""))
    if locator is None or path is None or Path(locator.file).resolve() != Path(path).resolve():
        return None, []
    entry = _case_texts().get(spec.name) or {}
    description = entry.get("description")
    return (unfold(str(description)) if description else None,
            [unfold(str(text)) if text else None for text in entry.get("because") or []])


def case_description(name: str, english: str, lang: str) -> str:
    """A built-in case's description for ``vnetlab catalog`` in ``lang``."""
    if lang == "en":
        return english
    text = (_case_texts().get(name) or {}).get("description")
    return unfold(str(text)) if text else english


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _tight(left: str, right: str) -> bool:
    """No space between these two characters: both CJK, or one is CJK punctuation."""
    def punct(char: str) -> bool:
        return _wide(char) and unicodedata.category(char).startswith("P")

    return (_wide(left) and _wide(right)) or punct(left) or punct(right)


def unfold(text: str) -> str:
    """Whitespace runs as one space, none between two CJK characters or next to CJK
    punctuation (a folded YAML line break inside a Chinese sentence is not a word break)."""
    words = text.split()
    out = words[0] if words else ""
    for word in words[1:]:
        out += word if _tight(out[-1], word[0]) else " " + word
    return out


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns (a CJK character takes two), as
    ``text[:width]`` does for ASCII."""
    out: list[str] = []
    used = 0
    for char in text:
        cells = 2 if _wide(char) else 1
        if used + cells > width:
            break
        out.append(char)
        used += cells
    return "".join(out)
