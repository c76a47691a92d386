"""The HTML report without a browser: contents from the run, links that resolve,
escaping, the Content-Security-Policy, determinism, the catalog index."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from report_fixtures import HOSTILE, HOSTILE_VM, run_case, run_file

from vnetlab.report.html import build_report, script_json


class Page(HTMLParser):
    """What a browser's parser would build: elements, ids, links, script texts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.styles: list[str] = []
        self.h2: list[str] = []
        self._in: str | None = None
        self._buf: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("script", "style", "h2"):
            self._in, self._buf = tag, []

    def handle_data(self, data: str) -> None:
        if self._in:
            self._buf.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            text = "".join(self._buf)
            if tag == "script":
                self.scripts.append((self.tags[-1][1] if self.tags[-1][0] == "script" else {},
                                     text))
            elif tag == "style":
                self.styles.append(text)
            else:
                self.h2.append(text.strip())
            self._in = None

    def attr_values(self, name: str) -> list[str]:
        return [attrs[name] for _, attrs in self.tags if name in attrs]


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_seed_report_contents_and_links() -> None:
    page_text = build_report(run_case("team-roundrobin"), "en")
    page = Page(page_text)
    assert page.h2[:4] == ["Topology", "Expectations", "Pings and DHCP clients",
                           "Findings and warnings"]
    assert [tag for tag, attrs in page.tags if attrs.get("class") == "flow"] \
        == ["details"]
    ids = set(page.attr_values("id"))
    for href in page.attr_values("href"):
        assert href.startswith("#") and href[1:] in ids, href
    [(_, data_text)] = [(a, s) for a, s in page.scripts if a.get("type") == "application/json"]
    data = json.loads(data_text)
    for step in page.attr_values("data-step"):
        assert step in data["steps"], step
    # the history: the FDB move that poisoned br1, with its step
    assert re.search(r'data-device="kvm1/br1" data-step="31">.*?moved.*?vnet0 -&gt; team1',
                     page_text)
    assert "sw1 received it on ge1 and flooded it out of ge2" in page_text


def test_csp_allows_exactly_the_inline_style_and_script() -> None:
    page = Page(build_report(run_case("team-roundrobin"), "en"))
    [csp] = [attrs["content"] for tag, attrs in page.tags
             if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
    [code] = [s for a, s in page.scripts if "type" not in a]
    [style] = page.styles
    assert f"script-src {sha256(code)};" in csp and f"style-src {sha256(style)};" in csp
    assert "default-src 'none'" in csp and "unsafe" not in csp
    assert not [v for v in page.attr_values("style")]          # no inline style attribute
    assert not [n for _, attrs in page.tags for n in attrs if n.startswith("on")]


def test_hostile_names_stay_text(tmp_path: Path) -> None:
    result = run_file(tmp_path / "hostile.yaml", HOSTILE)
    text = build_report(result, "en")
    page = Page(text)
    assert [tag for tag, _ in page.tags if tag in ("img", "b", "iframe")] == []
    assert len(page.scripts) == 2                    # the data and our code, nothing injected
    assert not [n for _, attrs in page.tags for n in attrs if n.startswith("on")]
    [(_, data_text)] = [(a, s) for a, s in page.scripts if a.get("type") == "application/json"]
    data = json.loads(data_text)
    assert any(step["w"] == HOSTILE_VM for step in data["steps"].values())
    assert "</" not in data_text and "<!--" not in data_text
    assert HOSTILE_VM.replace("<", "&lt;").replace(">", "&gt;") in text
    assert "hostile &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_script_json_cannot_end_its_element() -> None:
    text = script_json({"x": "</script><!-- <script>"})
    assert "</" not in text and "<!--" not in text
    assert json.loads(text) == {"x": "</script><!-- <script>"}


def test_same_input_same_bytes(tmp_path: Path) -> None:
    assert build_report(run_case("team-roundrobin"), "en") == \
        build_report(run_case("team-roundrobin"), "en")
    outs = []
    for i, hashseed in enumerate(("1", "999")):
        out = tmp_path / f"r{i}.html"
        proc = subprocess.run([sys.executable, "-m", "vnetlab", "report", "--case",
                               "stp-forward-delay-dhcp", "-o", str(out), "--seed", "3"],
                              capture_output=True, text=True, check=False,
                              env={"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_chinese_headings() -> None:
    page = Page(build_report(run_case("team-roundrobin"), "zh"))
    assert ("html", {"lang": "zh-CN"}) in page.tags
    assert page.h2[0] == "拓扑" and "失败的流" in page.h2
    assert "转发表 (FDB)" in page.h2[5]


def test_report_cli_exit_status_and_errors(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vnetlab", *args], capture_output=True,
                              text=True, check=False)

    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(HOSTILE, encoding="utf-8")
    proc = cli("report", str(hostile), "-o", str(tmp_path / "h.html"))
    assert proc.returncode == 1 and (tmp_path / "h.html").exists()   # its expectation fails
    proc = cli("report", "--case", "team-roundrobin")
    assert proc.returncode == 2 and "-o" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("report", "--case", "team-roundrobin", "-o", str(tmp_path), "--lang", "fr")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = cli("report", "--case", "team-roundrobin", "-o", str(tmp_path / "no" / "r.html"))
    assert proc.returncode == 2 and "cannot write" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_catalog_report_index_groups_by_seed(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "catalog", "report", "-o", str(out),
                           "team-roundrobin", "team-roundrobin-static-lag", "dhcp-no-relay",
                           "--lang", "en"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "dhcp-no-relay.html", "index.html", "team-roundrobin-static-lag.html",
        "team-roundrobin.html"]
    index = (out / "index.html").read_text()
    page = Page(index)
    assert page.h2 == ["Field report 000: team roundrobin under a VM bridge, switch without LAG "
                       "(seeds/000)", "Field report 001: a bridged VM gets no IP: DHCP, firewall, "
                       "VLAN, MAC conflicts (seeds/001)"]
    assert page.attr_values("href") == ["team-roundrobin.html", "team-roundrobin-static-lag.html",
                                        "dhcp-no-relay.html"]      # in the order asked
    proc = subprocess.run([sys.executable, "-m", "vnetlab", "catalog", "report", "-o", str(out),
                           "nope"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "no built-in case nope" in proc.stderr
