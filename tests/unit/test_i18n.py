"""Chinese output (vnetlab.i18n, docs/i18n.md): the message catalog, the step-sentence
patterns measured over every built-in case, the catalog texts, --lang and the locale,
and English output left exactly as it was."""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import vnetlab
from vnetlab import i18n
from vnetlab.catalog import case_paths
from vnetlab.cli import main
from vnetlab.explain.explain import Explainer
from vnetlab.explain.render import step_line, text
from vnetlab.lab import RunResult
from vnetlab.sim.trace import Action, DropReason

GOLDEN = Path(__file__).resolve().parent.parent / "scenarios" / "golden"
SEED_CASES = ("team-roundrobin", "firewall-docker-forward-drop", "stp-forward-delay-dhcp")
ENGLISH = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env or ENGLISH)


def shape(sentence: str) -> str:
    """A sentence with its names' variable parts replaced: one shape per kind of note."""
    out = re.sub(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", "MAC", sentence)
    out = re.sub(r"\d+\.\d+\.\d+\.\d+(?:/\d+)?", "IP", out)
    out = re.sub(r"0x[0-9a-f]+", "HEX", out)
    return re.sub(r"\d+(?:\.\d+)?", "N", out)


@pytest.fixture(scope="module")
def catalog_runs() -> dict[str, RunResult]:
    return {name: vnetlab.simulate(vnetlab.load_topology(str(path)))
            for name, path in case_paths().items()}


# -- the catalog of fixed phrases -----------------------------------------------------------

def test_every_message_has_chinese_and_the_same_fields() -> None:
    field = re.compile(r"\{(\w+)\}")
    for key, entry in i18n.MESSAGES.items():
        assert entry.get("zh"), f"{key} has no Chinese"
        assert set(field.findall(entry["zh"])) == set(field.findall(entry["en"])), key


def test_every_drop_reason_and_action_has_a_label() -> None:
    for token in DropReason:
        assert i18n.reason(token, "zh") != str(token), f"no Chinese label for {token}"
        assert str(token) in i18n.reason(token, "zh"), "the token operators search for stays"
        assert i18n.reason(token, "en") == str(token)
    for name in Action:
        assert i18n.action(name, "zh").endswith(f"（{name.upper()}）")
        assert i18n.action(name, "en") == name.upper()


def test_locale_picks_the_language(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.pick_lang() == "en"
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.pick_lang() == "zh"
    monkeypatch.setenv("LC_MESSAGES", "en_US.UTF-8")           # more specific than LANG
    assert i18n.pick_lang() == "en"
    monkeypatch.setenv("LC_ALL", "zh_TW.UTF-8")                # overrides both
    assert i18n.pick_lang() == "zh"
    assert i18n.pick_lang("en") == "en"                        # --lang beats the locale
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        i18n.pick_lang("xx")


# -- step sentences: coverage over the built-in cases, no dead pattern ------------------------

def test_note_patterns_cover_the_catalog_and_none_is_dead(catalog_runs: dict[str, RunResult]
                                                          ) -> None:
    used: collections.Counter[int] = collections.Counter()
    missed: collections.Counter[str] = collections.Counter()
    shapes: set[str] = set()
    per_case: dict[str, tuple[int, int]] = {}
    for name, result in catalog_runs.items():
        hit = 0
        for step in result.trace.steps:
            shapes.add(shape(step.note))
            found = i18n.patterns_used(step.note)
            if found is None:
                missed[shape(step.note)] += 1
            else:
                hit += 1
                used.update(found)
        per_case[name] = (hit, len(result.trace.steps))
    steps = sum(total for _, total in per_case.values())
    hits = sum(hit for hit, _ in per_case.values())
    print(f"\nnote coverage: {hits}/{steps} steps ({hits / steps:.2%}) of {len(per_case)} "
          f"built-in cases, {len(shapes)} sentence shapes, {len(i18n.PATTERNS)} patterns")
    for name in SEED_CASES:
        hit, total = per_case[name]
        print(f"  {name}: {hit}/{total} ({hit / total:.2%})")
        assert hit / total >= 0.95, (name, missed.most_common(5))
    for text_shape, count in missed.most_common(10):
        print(f"  untranslated x{count}: {text_shape}")
    assert hits / steps >= 0.95, missed.most_common(10)

    # the other device sentences the CLI shows: DHCP outcomes and observations, load
    # warnings; and the clauses of the matrix reasons
    for result in catalog_runs.values():
        texts = [*result.spec.notes, *(e.actual for e in result.expectations if e.kind == "dhcp")]
        for client in result.lab.dhcp.clients.values():
            texts += [client.outcome(), *(g.why for g in client.gave_up)]
        for sentence in texts:
            found = i18n.patterns_used(sentence)
            assert found is not None, f"untranslated: {sentence}"
            used.update(found)
    from vnetlab.matrix import run_matrix

    for cell in run_matrix(jobs=1):
        found = i18n.patterns_used(cell.reason)
        assert found is not None, f"untranslated matrix reason: {cell.reason}"
        used.update(found)
    dead = [p.regex.pattern for p in i18n.PATTERNS if p.index not in used]
    assert not dead, f"patterns no built-in case exercises: {dead}"


def test_an_unknown_sentence_stays_english_whole() -> None:
    assert i18n.note("a sentence no device writes", "zh") == "a sentence no device writes"
    # the outer shape is known, the part in brackets is not: nothing half-translated
    odd = "transmitted on ens224 (a policy no bond has: port 7)"
    assert i18n.note(odd, "zh") == odd
    assert i18n.patterns_used(odd) is None
    # a "; " list is translated clause by clause only if every clause is
    mixed = "learned 52:54:00:12:34:01 on vnet0; something else entirely"
    assert i18n.note(mixed, "zh") == mixed
    assert i18n.note("learned 52:54:00:12:34:01 on vnet0", "en") == \
        "learned 52:54:00:12:34:01 on vnet0"


def test_names_addresses_and_tokens_pass_through() -> None:
    zh = i18n.note("moved 52:54:00:12:34:01 from vnet0 to team1", "zh")
    assert zh == "52:54:00:12:34:01 从 vnet0 迁移到 team1"
    zh = i18n.note("port vnet0 entered listening state (STP on: listening for forward delay)",
                   "zh")
    assert "vnet0" in zh and "侦听（listening）" in zh and "转发延迟" in zh
    zh = i18n.note("bridged IPv4 dropped by filter FORWARD policy DROP (no rule matched: 8 rules "
                   "checked; via FORWARD rule 1 -> DOCKER-USER)", "zh")
    assert "filter FORWARD" in zh and "DROP" in zh and "DOCKER-USER" in zh and "丢弃" in zh


# -- the seed explanation in Chinese ----------------------------------------------------------

def test_seed_explanation_in_chinese_keeps_names_and_rule_ids() -> None:
    out = cli("explain", "--case", "team-roundrobin", "--lang", "zh")
    assert out.exit_code == 0, out.output
    body = out.output
    for term in ("网桥", "转发表", "泛洪", "入端口", "问题：", "结论：", "根因：", "简而言之："):
        assert term in body, term
    for kept in ("52:54:00:12:34:01", "ff:ff:ff:ff:ff:ff", "192.168.10.254", "kvm1/br1",
                 "team1", "ens256", "[br_forward, B13]", "[br_fdb_update, B7]",
                 "fdb-says-ingress-port", "S1, S3", "1.000002000s"):
        assert kept in body, kept
    assert "Question:" not in body and "Verdict:" not in body and "flooding" not in body


def test_locale_alone_makes_the_output_chinese() -> None:
    out = cli("explain", "--case", "team-roundrobin",
              env={"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"})
    assert out.output == cli("explain", "--case", "team-roundrobin", "--lang", "zh").output
    assert "问题：" in out.output


def test_run_and_catalog_in_chinese(catalog_runs: dict[str, RunResult]) -> None:
    out = cli("run", "--case", "firewall-docker-forward-drop", "--lang", "zh")
    assert out.exit_code == 0
    for term in ("预期", "原因：", "防火墙", "丢弃", "所有预期均成立", "netfilter-drop", "B24",
                 "dhcp vm1:eth0（NetworkManager）：没有地址"):
        assert term in out.output, term
    listing = cli("catalog", "--lang", "zh").output
    assert "team-roundrobin" in listing and "报告 000" in listing and "泛洪" in listing
    ran = cli("catalog", "--lang", "zh", "run", "team-roundrobin", "stp-forward-delay-dhcp")
    assert ran.exit_code == 0 and ran.output.count("通过") == 2 and "没有应答" in ran.output
    assert cli("catalog", "run", "team-roundrobin", "--lang", "zh").output.startswith("通过")
    shown = cli("catalog", "show", "team-roundrobin", "--lang", "zh").output
    assert shown.startswith("# roundrobin 模式的 team") and "name: team-roundrobin" in shown


def test_matrix_in_chinese() -> None:
    out = cli("matrix", "--rows", "bond:balance-rr", "--columns", "no-lag,static-lag",
              "--lang", "zh")
    assert out.exit_code == 0
    for term in ("聚合方式", "交换机：无 LAG", "不通", "降级", "丢包", "迁移到 bond0",
                 "fdb-says-ingress-port", "[br_fdb_update, B7]"):
        assert term in out.output, term
    md = cli("matrix", "--rows", "bond:balance-rr", "--columns", "no-lag", "--markdown",
             "--lang", "zh").output
    assert md.startswith("| 聚合方式 | 交换机：无 LAG |") and "**不通**" in md


def test_finding_summary_in_chinese(run: Any) -> None:
    from test_aggregates_switch import LOOP

    result = run(LOOP)
    finding = result.lab.findings[0]
    assert finding.text("en") == finding.summary
    zh = finding.text("zh")
    assert zh.startswith("转发环路：") and "STP" in zh and finding.where in zh


def test_bad_language_is_refused_with_exit_2() -> None:
    for args in (("run", "--case", "team-roundrobin"), ("explain", "--case", "team-roundrobin"),
                 ("catalog",), ("catalog", "run", "team-roundrobin"), ("matrix",)):
        out = cli(*args, "--lang", "xx")
        assert out.exit_code == 2, args
        assert "unknown language 'xx' (expected one of: en, zh)" in out.output, out.output
        assert "Traceback" not in out.output


# -- English stays exactly as it was ----------------------------------------------------------

def test_english_step_lines_are_the_golden_ones(catalog_runs: dict[str, RunResult]) -> None:
    for name in SEED_CASES:
        golden = (GOLDEN / f"{name}.trace").read_text().splitlines()[1:]
        lines = [step_line(s, " ", "en") + (f"  <{s.reason}>" if s.reason else "")
                 for s in catalog_runs[name].trace.steps]
        assert lines == golden, name


def test_english_explanation_and_cli_unchanged(catalog_runs: dict[str, RunResult]) -> None:
    explanation = Explainer(catalog_runs["team-roundrobin"]).ping("vm1")[0]
    rendered = text(explanation)
    assert rendered == text(explanation, "en")
    assert rendered.startswith(
        "Question: why did ping vm1 -> 192.168.10.254 seq=1 (sent at 1.000000000s) get no "
        "reply?\nVerdict:  NOT DELIVERED: dropped at kvm1/br1 (fdb-says-ingress-port): FDB says "
        "52:54:00:12:34:01 is on ingress port team1\n\nPath (each step caused by the one "
        "above):\n")
    assert "In short:\n  - kvm1/br1: moved 52:54:00:12:34:01 from vnet0 to team1 at " \
           "1.000002000s (frame uid=2) [br_fdb_update, B7]\n" in rendered
    default = cli("explain", "--case", "team-roundrobin").output
    assert default == cli("explain", "--case", "team-roundrobin", "--lang", "en").output
    assert rendered in default
    run = cli("run", "--case", "team-roundrobin").output
    assert "team-roundrobin: all expectations hold (21 frame deliveries, 27 events)" in run
    assert "drops: fdb-says-ingress-port 3, neigh-failed 3" in run
    listing = cli("catalog").output.splitlines()
    assert any(line.startswith("team-roundrobin                  seed 000  Team in roundrobin")
               for line in listing)


def test_json_stays_english_whatever_the_language() -> None:
    for args in (("run", "--case", "stp-forward-delay-dhcp", "--json"),
                 ("explain", "--case", "team-roundrobin", "--json"),
                 ("catalog", "--json"), ("catalog", "run", "team-roundrobin", "--json")):
        english = cli(*args).output
        assert cli(*args, "--lang", "zh").output == english, args
        assert not re.search(r"[\u4e00-\u9fff]", english), args


# -- the built-in cases' Chinese texts ---------------------------------------------------------

def test_every_case_has_chinese_texts_lined_up_with_its_file(
        catalog_runs: dict[str, RunResult]) -> None:
    texts = i18n._case_texts()
    assert set(texts) == set(case_paths()), "zh.yaml and the catalog name the same cases"
    for name, result in catalog_runs.items():
        description, because = i18n.case_text(result.spec, "zh")
        assert description and re.search(r"[\u4e00-\u9fff]", description), name
        assert len(because) == len(result.spec.expect), name
        for index, expect in enumerate(result.spec.expect):
            assert bool(because[index]) == bool(expect.because), (name, index)
        zh = result.expectations_in("zh")
        assert [e.ok for e in zh] == [e.ok for e in result.expectations]
        assert all(e.because == because[e.index] for e in zh if e.because), name


def test_a_copy_of_a_case_keeps_its_own_texts(tmp_path: Path) -> None:
    copy = tmp_path / "team-roundrobin.yaml"
    copy.write_text(case_paths()["team-roundrobin"].read_text())
    result = vnetlab.simulate(vnetlab.load_topology(str(copy)))
    assert i18n.case_text(result.spec, "zh") == (None, [])
    zh = result.expectations_in("zh")
    assert zh[0].because == result.expectations[0].because     # English: it may be edited
    assert zh[0].expected == "ping vm1 -> 192.168.10.254：没有应答"


def test_every_pattern_group_reaches_its_template() -> None:
    """A captured name, address or nested sentence is never silently dropped, and a
    template names no group its pattern lacks."""
    for pattern in i18n.PATTERNS:
        groups = set(pattern.regex.groupindex)
        placeholders = set(re.findall(r"\{(\w+)\}", pattern.zh))
        assert placeholders == groups, (pattern.regex.pattern, groups ^ placeholders)
