"""The fixed phrases of ``vnetlab capture`` and ``vnetlab watch`` in English and Chinese
(docs/i18n.md), registered into ``vnetlab.i18n.MESSAGES`` by ``register()``. Names,
MACs, commands and check ids are never translated."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "capture.error": {"en": "error: {error}", "zh": "错误：{error}"},
    "capture.nothing": {"en": "nothing was written.", "zh": "没有写入任何文件。"},
    "capture.note": {"en": "note: {note}", "zh": "提示：{note}"},
    "capture.summary": {
        "en": "{path}: {host}: {interfaces} interface(s), {vms} VM(s), {fdb} FDB entries, "
              "{ports} bridge port(s), read in {seconds} s; {notes} note(s)",
        "zh": "{path}：{host}：{interfaces} 个接口，{vms} 台虚拟机，{fdb} 条转发表项，"
              "{ports} 个网桥端口，读取用时 {seconds} 秒；{notes} 条提示"},
    "capture.missing": {"en": "missing tools (their part is not captured): {tools}",
                        "zh": "缺少的工具（相应部分未抓取）：{tools}"},
    "watch.error": {"en": "error: {error}", "zh": "错误：{error}"},
    "watch.here": {"en": "this host", "zh": "本机"},
    "watch.netns": {"en": "netns {netns}", "zh": "网络命名空间 {netns}"},
    "watch.ready": {"en": "watching {where}: {fdb} FDB entries, {ports} bridge port(s); "
                          "Ctrl-C ends",
                    "zh": "正在监视 {where}：{fdb} 条转发表项，{ports} 个网桥端口；按 Ctrl-C 结束"},
    "watch.learn": {"en": "{time} {bridge}: {mac} learned on {port}{vlan}",
                    "zh": "{time} {bridge}：在 {port} 上学习到 {mac}{vlan}"},
    "watch.move": {"en": "{time} {bridge}: {mac} moved {old} -> {port}{vlan}",
                   "zh": "{time} {bridge}：{mac} 从 {old} 迁移到 {port}{vlan}"},
    "watch.delete": {"en": "{time} {bridge}: {mac} removed from {port}{vlan}",
                     "zh": "{time} {bridge}：{mac} 已从 {port} 删除{vlan}"},
    "watch.port_state": {"en": "{time} {bridge}: port {port} {old} -> {state}",
                         "zh": "{time} {bridge}：端口 {port} 从 {old} 变为 {state}"},
    "watch.oper_state": {"en": "{time} {port}: link {old} -> {state}",
                         "zh": "{time} {port}：链路 {old} 变为 {state}"},
    "watch.vm_mac_on_uplink": {
        "en": "{time} [{check}] {bridge}: {mac}, first learned on the tap {tap} (a local VM), is "
              "now learned on {port}: frames for that VM that arrive on {port} are dropped "
              "(B13) until it transmits again",
        "zh": "{time} [{check}] {bridge}：{mac} 最初在 tap {tap}（本机虚拟机）上学习到，现在被学习到 "
              "{port} 上：从 {port} 进来的发往该虚拟机的帧被丢弃（B13），直到它再次发送"},
    "watch.flapping": {
        "en": "{time} [{check}] {bridge}: {mac} moved {moves} times in {window} s between "
              "{ports}",
        "zh": "{time} [{check}] {bridge}：{mac} 在 {window} 秒内于 {ports} 之间迁移了 {moves} 次"},
    "watch.port_finding": {
        "en": "{time} [{check}] {bridge}: port {port} is {state}: it neither receives nor "
              "sends frames (B3.3, B18)",
        "zh": "{time} [{check}] {bridge}：端口 {port} 处于 {state}：既不接收也不发送帧（B3.3，B18）"},
    "watch.lost": {"en": "{time} events were lost (the socket's buffer overflowed): read the "
                         "tables again",
                   "zh": "{time} 有事件丢失（套接字缓冲区溢出）：重新读取表"},
    "watch.end": {"en": "{events} event(s), {findings} finding(s) in {seconds} s",
                  "zh": "{seconds} 秒内 {events} 个事件，{findings} 个发现"},
}


def register() -> None:
    from vnetlab.i18n import MESSAGES

    MESSAGES.update(STRINGS)
