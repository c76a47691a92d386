"""The doctor's fixed phrases in English and Chinese (docs/i18n.md).

Registered into ``vnetlab.i18n.MESSAGES`` by ``register()`` (``vnetlab.doctor`` calls it
on import), read with ``i18n.t``. Each check's own sentences (title, consequences)
sit next to the check, in its ``texts``; these are the ones the output, the fixes'
headings, the prove harness and the fleet summary share. Names, MACs, addresses,
commands, rule ids and check ids are never translated.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    # -- where a fix's commands go ----------------------------------------------------------
    "doctor.where.host": {"en": "on {host}", "zh": "在 {host} 上"},
    "doctor.where.switch": {"en": "on switch {switch} (Cisco IOS syntax)",
                            "zh": "在交换机 {switch} 上（Cisco IOS 语法）"},
    "doctor.where.switch_unknown": {
        "en": "on the switch ports cabled to {nics} (Cisco IOS syntax)",
        "zh": "在连接 {nics} 的交换机端口上（Cisco IOS 语法）"},
    "doctor.where.libvirt": {"en": "libvirt, VM {vm}", "zh": "libvirt，虚拟机 {vm}"},
    "doctor.where.dnsmasq": {"en": "dnsmasq on {server}", "zh": "{server} 上的 dnsmasq"},
    "doctor.where.router": {"en": "on router {router} (Cisco IOS syntax)",
                            "zh": "在路由器 {router} 上（Cisco IOS 语法）"},
    "doctor.where.router_linux": {"en": "or, {router} being Linux (ISC dhcrelay)",
                                  "zh": "或者，若 {router} 是 Linux（ISC dhcrelay）"},
    "doctor.note.switch_unknown": {
        "en": "the switch behind {nics} is not described: assumed without a LAG (severity "
              "lowered one level; describe it under switches: or capture its FDB evidence)",
        "zh": "{nics} 后面的交换机未描述：假定没有链路聚合（严重级别降低一级；请在 switches: "
              "中描述它，或提供抓取的转发表证据）"},
    "doctor.note.switch_live": {
        "en": "the switch behind {nics} is not described: assumed without a LAG; the captured "
              "FDB shows the hazard happening",
        "zh": "{nics} 后面的交换机未描述：假定没有链路聚合；抓取的转发表表明该隐患正在发生"},
    # -- text output ------------------------------------------------------------------------
    "doctor.severity.error": {"en": "ERROR", "zh": "错误"},
    "doctor.severity.warning": {"en": "WARNING", "zh": "警告"},
    "doctor.severity.info": {"en": "INFO", "zh": "提示"},
    "doctor.host": {"en": "== {host} ({input}, {kind})", "zh": "== {host}（{input}，{kind}）"},
    "doctor.host.clean": {"en": "   no hazard found ({checks} checks)",
                          "zh": "   未发现隐患（{checks} 项检查）"},
    "doctor.finding": {"en": "{severity} {check} [{subject}]: {title}",
                       "zh": "{severity} {check} [{subject}]：{title}"},
    "doctor.evidence": {"en": "evidence:", "zh": "证据："},
    "doctor.evidence.config": {"en": "config", "zh": "配置"},
    "doctor.evidence.live": {"en": "live", "zh": "运行状态"},
    "doctor.consequence": {"en": "consequence:", "zh": "后果："},
    "doctor.fix": {"en": "fix:", "zh": "修复："},
    "doctor.fix.or": {"en": "or", "zh": "或"},
    "doctor.note": {"en": "note:", "zh": "说明："},
    "doctor.rules": {"en": "rules: {rules}", "zh": "规则：{rules}"},
    "doctor.references": {"en": "references:", "zh": "参考："},
    "doctor.skipped": {"en": "   ({count} live-state checks skipped: no captured: block)",
                       "zh": "   （跳过 {count} 项运行状态检查：没有 captured: 块）"},
    "doctor.input_error": {"en": "error: {error}", "zh": "错误：{error}"},
    "doctor.summary": {"en": "Summary: {inputs} input(s), {hosts} host(s), {errors} error(s), "
                             "{warnings} warning(s), {infos} info; {bad} unreadable input(s)",
                       "zh": "汇总：{inputs} 个输入，{hosts} 台宿主机，{errors} 个错误，"
                             "{warnings} 个警告，{infos} 个提示；{bad} 个输入无法读取"},
    "doctor.summary.by_check": {"en": "By check:", "zh": "按检查项："},
    "doctor.summary.check_line": {"en": "  {check:<34} {severity:<8} {findings:>6} finding(s) "
                                        "on {hosts} host(s)",
                                  "zh": "  {check:<34} {severity:<8} {findings:>6} 项发现，"
                                        "涉及 {hosts} 台宿主机"},
    "doctor.summary.by_host": {"en": "By host:", "zh": "按宿主机："},
    "doctor.summary.host_line": {"en": "  {host:<34} {errors} error(s), {warnings} warning(s), "
                                       "{infos} info",
                                 "zh": "  {host:<34} {errors} 个错误，{warnings} 个警告，"
                                       "{infos} 个提示"},
    "doctor.summary.more_hosts": {"en": "  ... and {count} more host(s) with findings (--json "
                                        "lists them all)",
                                  "zh": "  ……另有 {count} 台宿主机有发现（--json 列出全部）"},
    "doctor.fail_on": {"en": "exit status 1: a finding reaches --fail-on {level}",
                       "zh": "退出状态 1：有发现达到 --fail-on {level}"},
    "doctor.engine": {"en": "audited {inputs} input(s) in {seconds:.1f} s on {engine}",
                      "zh": "用时 {seconds:.1f} 秒在 {engine} 上审计了 {inputs} 个输入"},
    # -- prove -------------------------------------------------------------------------------
    "doctor.prove": {"en": "prove (simulated, seed {seed}):", "zh": "验证（仿真，种子 {seed}）："},
    "doctor.prove.works": {"en": "works", "zh": "正常"},
    "doctor.prove.fails": {"en": "fails", "zh": "失败"},
    "doctor.prove.partly": {"en": "partly fails ({replies}/{sent} replies)",
                            "zh": "部分失败（{replies}/{sent} 个回复）"},
    "doctor.prove.ping": {"en": "{vm} -> {dst}{size}: {now} now{why}; {after} with {fix}",
                          "zh": "{vm} -> {dst}{size}：当前{now}{why}；采用{fix} 后{after}"},
    "doctor.prove.dhcp": {"en": "{vm} DHCP: {now} now{why}; {after} with {fix}",
                          "zh": "{vm} DHCP：当前{now}{why}；采用{fix} 后{after}"},
    "doctor.prove.fix_n": {"en": "fix {n} above", "zh": "上面的修复 {n}"},
    "doctor.prove.fixes_n": {"en": "fixes {n} above", "zh": "上面的修复 {n}"},
    "doctor.prove.bound_at": {"en": "bound {address} at {time}", "zh": "于 {time} 获得 {address}"},
    "doctor.prove.no_lease_by": {"en": "no lease by {time}", "zh": "到 {time} 仍没有租约"},
    "doctor.prove.unbound": {"en": "no lease", "zh": "没有租约"},
    "doctor.prove.link_local": {"en": "link-local (APIPA) only", "zh": "只有链路本地地址（APIPA）"},
    "doctor.prove.explain": {"en": " (explain: {where}: {note} [{fn}, {rule}])",
                             "zh": "（解释：{where}：{note} [{fn}, {rule}]）"},
    "doctor.prove.size": {"en": " (-s {size}, DF)", "zh": "（-s {size}，DF）"},
    "doctor.prove.harness": {
        "en": "harness: {host} had no outside world here; added switch {switch} cabled to "
              "{nics} (plain ports, no LAG: an assumption) and endpoint {endpoint} at {address}"
              "{dhcp}",
        "zh": "测试环境：{host} 在此没有外部网络；添加了交换机 {switch}，连接 {nics}（普通端口，"
              "没有链路聚合：这是一个假设），以及位于 {address} 的端点 {endpoint}{dhcp}"},
    "doctor.prove.harness_dhcp": {"en": " serving DHCP {pool}", "zh": "，提供 DHCP {pool}"},
    "doctor.prove.not_provable": {"en": "not proved: {why}", "zh": "未验证：{why}"},
    "doctor.prove.no_probe": {"en": "no traffic to probe (no VM with an address or DHCP behind "
                                    "it)",
                              "zh": "没有可探测的流量（其后没有带地址或使用 DHCP 的虚拟机）"},
    "doctor.prove.no_fix": {"en": "this check offers no document fix",
                            "zh": "此检查不提供拓扑文档的修复"},
    "doctor.prove.outside": {
        "en": "{what} is not in the topology, which describes part of the outside world already "
              "(the harness is added to host-only inputs)",
        "zh": "{what} 不在拓扑中，而拓扑已经描述了部分外部网络（测试环境只添加到仅含宿主机的输入）"},
    "doctor.prove.no_nic": {"en": "{host} has no ethernet NIC to cable a harness to",
                            "zh": "{host} 没有可连接测试环境的以太网卡"},
    "doctor.prove.invalid": {"en": "the simulated topology does not load: {error}",
                             "zh": "仿真拓扑无法加载：{error}"},
    "doctor.prove.unchanged": {"en": "the model does not show the hazard here (both runs "
                                     "work)",
                               "zh": "模型在这里没有重现该隐患（两次运行都正常）"},
}


def register() -> None:
    from vnetlab.i18n import MESSAGES

    MESSAGES.update(STRINGS)
