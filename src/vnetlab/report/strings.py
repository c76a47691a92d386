"""The fixed phrases of the diagram and the HTML report, in English and Chinese.

Registered into ``vnetlab.i18n.MESSAGES`` when ``vnetlab.report`` is imported
(``register()``), and read with ``i18n.t(key, lang, **fields)``. Chinese uses
the terms operators search for: 网桥 (bridge), 绑定 (bond), 交换机 (switch),
端口 (port), 转发表 (FDB), 丢弃 (drop), 泛洪 (flood), 学习 (learn), 链路聚合 (LAG).
Interface names, MACs, addresses, kernel function names and rule ids are
never translated. Placeholders in ``{braces}`` are filled by ``t()``; the
``js.*`` phrases keep theirs for the page's script to fill.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    # -- diagram ------------------------------------------------------------------------
    "diagram.title": {"en": "topology {name}", "zh": "拓扑 {name}"},
    "diagram.cluster": {"en": "{name} ({kind})", "zh": "{name}（{kind}）"},
    "diagram.kind.host": {"en": "host", "zh": "主机"},
    "diagram.kind.vm": {"en": "VM", "zh": "虚拟机"},
    "diagram.kind.switch": {"en": "switch", "zh": "交换机"},
    "diagram.kind.router": {"en": "router", "zh": "路由器"},
    "diagram.kind.nic": {"en": "NIC", "zh": "网卡"},
    "diagram.kind.bond": {"en": "bond {mode}", "zh": "绑定 {mode}"},
    "diagram.kind.team": {"en": "team {runner}", "zh": "team 聚合 {runner}"},
    "diagram.kind.bridge": {"en": "bridge", "zh": "网桥"},
    "diagram.kind.ovs_bridge": {"en": "OVS bridge", "zh": "OVS 网桥"},
    "diagram.kind.ovs_patch": {"en": "OVS patch port", "zh": "OVS patch 端口"},
    "diagram.kind.ovs_port": {"en": "OVS internal port", "zh": "OVS 内部端口"},
    "diagram.kind.bridge_stp": {"en": "bridge, STP", "zh": "网桥，STP"},
    "diagram.kind.vlan": {"en": "VLAN {vid}", "zh": "VLAN {vid}"},
    "diagram.kind.tap": {"en": "tap", "zh": "tap 设备"},
    "diagram.kind.vnic": {"en": "guest NIC", "zh": "虚拟机网卡"},
    "diagram.kind.port": {"en": "port", "zh": "端口"},
    "diagram.kind.rif": {"en": "interface", "zh": "接口"},
    "diagram.kind.lag": {"en": "LAG {name} ({mode})", "zh": "链路聚合 {name}（{mode}）"},
    "diagram.tip.device": {"en": "{where}: {kind}, MAC {mac}, MTU {mtu}",
                           "zh": "{where}：{kind}，MAC {mac}，MTU {mtu}"},
    "diagram.problem.drop": {
        "en": "dropped at {time} ({reason}): {note} [{fn}, {rule}]; failing flow: {question}",
        "zh": "于 {time} 丢弃（{reason}）：{note} [{fn}, {rule}]；失败的流：{question}"},
    "diagram.problem.port": {"en": "the port {port} of {where}: {text}",
                             "zh": "{where} 的端口 {port}：{text}"},
    "diagram.problem.finding": {"en": "finding {check}: {summary}",
                                "zh": "发现的问题 {check}：{summary}"},
    "diagram.problem.warning": {"en": "load warning: {note}", "zh": "加载警告：{note}"},
    "diagram.legend.cable": {"en": "cable", "zh": "网线"},
    "diagram.legend.tap": {"en": "VM NIC to its tap", "zh": "虚拟机网卡到其 tap"},
    "diagram.legend.port": {"en": "port of / VLAN on", "zh": "从属端口 / VLAN 所在设备"},
    "diagram.legend.patch": {"en": "OVS patch pair", "zh": "OVS patch 端口对"},
    "diagram.legend.problem": {"en": "problem (hover for why)", "zh": "问题（悬停查看原因）"},
    "diagram.no_problems": {"en": "no problem marked", "zh": "未标记问题"},
    "diagram.problems": {"en": "{count} problem(s) marked in red",
                         "zh": "红色标记了 {count} 处问题"},
    # -- report: page -------------------------------------------------------------------
    "report.title": {"en": "vnetlab report: {name}", "zh": "vnetlab 报告：{name}"},
    "report.generated": {"en": "vnetlab {version}, topology {file}, seed {seed}",
                         "zh": "vnetlab {version}，拓扑文件 {file}，随机种子 {seed}"},
    "report.seed_case": {"en": "field report {seed}: {report}", "zh": "现场案例 {seed}：{report}"},
    "report.verdict.ok": {"en": "All {total} expectations hold.",
                          "zh": "全部 {total} 项预期均成立。"},
    "report.verdict.fail": {"en": "{failed} of {total} expectations FAILED.",
                            "zh": "{total} 项预期中有 {failed} 项失败。"},
    "report.verdict.none": {"en": "No expectations in this topology.",
                            "zh": "该拓扑没有定义预期。"},
    "report.stats": {"en": "{deliveries} frame deliveries, {events} events, simulated until {end}",
                     "zh": "{deliveries} 次帧投递，{events} 个事件，模拟到 {end}"},
    "report.nav": {"en": "Contents", "zh": "目录"},
    "report.h.topology": {"en": "Topology", "zh": "拓扑"},
    "report.h.expectations": {"en": "Expectations", "zh": "预期与结果"},
    "report.h.activity": {"en": "Pings and DHCP clients", "zh": "Ping 与 DHCP 客户端"},
    "report.h.findings": {"en": "Findings and warnings", "zh": "发现的问题与警告"},
    "report.h.flows": {"en": "Failing flows", "zh": "失败的流"},
    "report.h.history": {"en": "Forwarding table (FDB) and ARP history",
                         "zh": "转发表 (FDB) 与 ARP 邻居表历史"},
    "report.h.trace": {"en": "Trace steps", "zh": "跟踪步骤"},
    "report.col.index": {"en": "#", "zh": "序号"},
    "report.col.line": {"en": "line", "zh": "行"},
    "report.col.expectation": {"en": "expectation", "zh": "预期"},
    "report.col.observed": {"en": "observed", "zh": "实际结果"},
    "report.col.because": {"en": "because", "zh": "原因"},
    "report.col.result": {"en": "result", "zh": "结论"},
    "report.col.step": {"en": "step", "zh": "步骤"},
    "report.col.time": {"en": "time", "zh": "时间"},
    "report.col.device": {"en": "device", "zh": "设备"},
    "report.col.port": {"en": "port", "zh": "端口"},
    "report.col.action": {"en": "action", "zh": "动作"},
    "report.col.event": {"en": "event", "zh": "事件"},
    "report.col.address": {"en": "address", "zh": "地址"},
    "report.col.where": {"en": "port / state", "zh": "端口 / 状态"},
    "report.col.note": {"en": "what happened", "zh": "说明"},
    "report.col.ref": {"en": "function, rule", "zh": "函数，规则"},
    "report.col.reason": {"en": "drop reason", "zh": "丢弃原因"},
    "report.ok": {"en": "ok", "zh": "通过"},
    "report.fail": {"en": "FAIL", "zh": "失败"},
    "report.ping": {"en": "ping {src} -> {dst}: {sent} sent, {replies} replies",
                    "zh": "ping {src} -> {dst}：发送 {sent} 个，收到 {replies} 个回复"},
    "report.dhcp": {"en": "DHCP {ref} ({label}): {outcome}",
                    "zh": "DHCP {ref}（{label}）：{outcome}"},
    "report.no_activity": {"en": "No pings and no DHCP clients in this run.",
                           "zh": "本次运行没有 ping，也没有 DHCP 客户端。"},
    "report.finding": {"en": "finding", "zh": "发现的问题"},
    "report.warning": {"en": "load warning", "zh": "加载警告"},
    "report.note": {"en": "note", "zh": "提示"},
    "report.no_findings": {"en": "No findings and no load warnings.",
                           "zh": "没有发现问题，也没有加载警告。"},
    "report.no_flows": {"en": "Every expectation holds and every ping got its replies: "
                              "no failing flow to explain.",
                        "zh": "所有预期均成立，所有 ping 都收到了回复：没有需要解释的失败流。"},
    "report.flow": {"en": "Flow {index}", "zh": "流 {index}"},
    "report.flow.question": {"en": "Question", "zh": "问题"},
    "report.flow.verdict": {"en": "Verdict", "zh": "结论"},
    "report.flow.decisive": {"en": "Decisive step", "zh": "决定性的一步"},
    "report.flow.sequence": {"en": "Frames across devices (sequence diagram)",
                             "zh": "帧在设备之间的传递（时序图）"},
    "report.flow.path": {"en": "Path (each step caused by the one above)",
                         "zh": "路径（每一步由上一步引起）"},
    "report.flow.cause": {"en": "Root cause: the state this decision used was set by",
                          "zh": "根因：这一决定所依据的状态由以下步骤设置"},
    "report.flow.short": {"en": "In short", "zh": "简而言之"},
    "report.flow.no_decisive": {"en": "No drop recorded for this question.",
                                "zh": "该问题没有记录到丢弃。"},
    "report.flow.truncated": {"en": "(the first {shown} of {total} steps)",
                              "zh": "（共 {total} 步，仅显示前 {shown} 步）"},
    "report.seq.legend": {
        "en": "lifelines: devices on the path; solid arrow: a frame over a cable; dashed: "
              "handed up or down inside a node; x: dropped; highlighted: the decisive step; "
              "orange: the root-cause chain; dotted arc: the state a decision used",
        "zh": "生命线：路径上的设备；实线箭头：帧经网线传输；虚线：节点内部向上或向下传递；"
              "x：丢弃；高亮：决定性的一步；橙色：根因链；点线弧：决定所依据的状态"},
    "report.seq.uses": {"en": "uses", "zh": "依据"},
    "report.seq.stack": {"en": "stack", "zh": "协议栈"},
    "report.expand_all": {"en": "Expand all flows", "zh": "展开全部流"},
    "report.collapse_all": {"en": "Collapse all flows", "zh": "折叠全部流"},
    "report.hint": {"en": "Click a step to highlight it and the chain of steps that caused it.",
                    "zh": "点击任一步骤，可高亮该步骤及引起它的因果链。"},
    "report.history.intro": {
        "en": "When each entry of the devices involved was learned, moved, aged out or flushed, "
              "and each neighbour (ARP) state change; every row links to its trace step.",
        "zh": "相关设备的转发表条目何时被学习、移动、老化或清空，以及每次邻居 (ARP) 状态变化；"
              "每一行都链接到对应的跟踪步骤。"},
    "report.history.filter": {"en": "Filter", "zh": "过滤"},
    "report.history.placeholder": {"en": "MAC, IP, port, device...",
                                   "zh": "MAC、IP、端口、设备……"},
    "report.history.all": {"en": "all devices", "zh": "全部设备"},
    "report.history.none": {"en": "No table changes recorded.", "zh": "没有记录到表项变化。"},
    "report.event.learn": {"en": "learned", "zh": "学习"},
    "report.event.move": {"en": "moved", "zh": "移动"},
    "report.event.age": {"en": "aged out", "zh": "老化"},
    "report.event.flush": {"en": "flushed", "zh": "清空"},
    "report.event.neigh": {"en": "neighbour", "zh": "邻居 (ARP)"},
    "report.trace.intro": {
        "en": "The steps the flows and the history refer to, with the steps that caused them.",
        "zh": "上述流与历史记录所引用的步骤，以及引起它们的步骤。"},
    "report.footer": {"en": "Self-contained report: no network access needed.",
                      "zh": "独立报告：无需网络访问。"},
    # -- catalog index ------------------------------------------------------------------
    "report.index.title": {"en": "vnetlab: the built-in cases", "zh": "vnetlab：内置案例"},
    "report.index.intro": {"en": "One report per case, grouped by the field report it comes from.",
                           "zh": "每个案例一份报告，按其来源的现场案例分组。"},
    "report.index.seed": {"en": "Field report {seed}: {report}", "zh": "现场案例 {seed}：{report}"},
    "report.index.other": {"en": "Other cases", "zh": "其他案例"},
    "report.index.generated": {"en": "vnetlab {version}, seed 0", "zh": "vnetlab {version}，随机种子 0"},
    "report.index.case": {"en": "case", "zh": "案例"},
    "report.index.flows": {"en": "failing flows explained", "zh": "已解释的失败流"},
    "report.index.description": {"en": "description", "zh": "描述"},
    "report.index.expectations": {"en": "expectations", "zh": "预期"},
    # -- the page's script (placeholders filled in the browser) ---------------------------
    "js.selected": {"en": "Step {id} at {where}: {note} (causal chain: {n} steps highlighted)",
                    "zh": "已选中步骤 {id}（{where}）：{note}（已高亮因果链：{n} 步）"},
    "js.count": {"en": "{shown} of {total} rows", "zh": "显示 {shown} / {total} 行"},
}


def register() -> None:
    """Add the phrases to ``i18n.MESSAGES`` (keys the catalog already has are kept)."""
    from vnetlab.i18n import MESSAGES

    for key, entry in STRINGS.items():
        MESSAGES.setdefault(key, entry)
