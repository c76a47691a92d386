"""The HTML report in a real browser: Debian's Chromium driven by Playwright's sync
API (``playwright install`` cannot download here, so ``executable_path``).

Without Chromium or Playwright the tests are skipped loudly; with ``CI=true``
they FAIL instead (the pattern of tests/kernel/netns.py ``in_ci``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import HOSTILE, HOSTILE_VM, read_png, run_case, run_file

from vnetlab.report.html import build_report

CHROMIUMS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def in_ci() -> bool:
    """CI=true turns "browser unavailable" from a skip into a failure."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> None:
    message = (f"!!! HTML REPORT BROWSER TESTS NOT RUN: {reason}. Install Debian's chromium "
               "(apt-get install chromium) and playwright (pip install playwright).")
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    exe = next((p for p in CHROMIUMS if os.access(p, os.X_OK)), None)
    if exe is None:
        unavailable(f"no chromium at {' or '.join(CHROMIUMS)}")
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=exe, args=ARGS)
        except Exception as exc:       # any launch failure is "unavailable"
            unavailable(f"chromium did not start: {exc}")
        yield chromium
        chromium.close()


class Opened:
    """A page with everything it logged, requested and raised recorded."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.url = path.resolve().as_uri()
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check_clean(self) -> None:
        assert self.errors == []
        assert self.requests == [self.url]          # the file itself, nothing else
        assert self.dialogs == []


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "team-roundrobin.html"
    path.write_text(build_report(run_case("team-roundrobin"), "en"), encoding="utf-8")
    return path


def test_seed_report_tells_the_flooded_back_arp_story(browser: Any, seed_report: Path) -> None:
    opened = Opened(browser, seed_report)
    page = opened.page
    decisive = page.locator("#flow-1 .decisive-box")
    assert decisive.is_visible()
    text = decisive.inner_text()
    for needle in ("kvm1/br1", "[team1]", "FDB says 52:54:00:12:34:01 is on ingress port team1",
                   "fdb-says-ingress-port", "br_forward, B13"):
        assert needle in text, needle
    # the root cause: sw1 flooded vm1's ARP broadcast back into team1's other port
    summary = page.locator("#flow-1 ul.summary").inner_text()
    assert "moved 52:54:00:12:34:01 from vnet0 to team1" in summary
    assert "the frame was sent by vm1: broadcast ARP who-has 192.168.10.254" in summary
    assert "sw1 received it on ge1 and flooded it out of ge2" in summary
    assert "so kvm1's own frame came back into kvm1 on ens256" in summary
    cause = page.locator("#flow-1 ol.cause li.root-cause")
    assert cause.is_visible() and "moved 52:54:00:12:34:01 from vnet0 to team1" in cause.inner_text()
    # highlighted: the decisive row of the sequence diagram, br1 in the topology
    row = page.locator("#flow-1 svg .seq-row.decisive")
    assert row.count() == 1 and row.get_attribute("data-step") == decisive.get_attribute("data-step")
    marked = page.locator("svg.vnetlab-topology g.node.problem")
    assert marked.count() == 1 and marked.get_attribute("data-where") == "kvm1/br1"
    assert marked.is_visible()
    opened.check_clean()
    page.close()


def test_clicking_a_step_highlights_its_causal_chain(browser: Any, seed_report: Path) -> None:
    opened = Opened(browser, seed_report)
    page = opened.page
    assert page.locator("#selection").is_hidden()
    page.locator("#flow-1 .decisive-box").click()
    status = page.locator("#selection")
    assert status.is_visible() and "kvm1/br1" in status.inner_text()
    step = page.locator("#flow-1 .decisive-box").get_attribute("data-step")
    assert page.locator(f'#flow-1 svg .seq-row.sel[data-step="{step}"]').count() == 1
    chain = page.locator("#flow-1 ol.path li.in-chain").count()
    assert chain == page.locator("#flow-1 ol.path li").count() - 1     # every step above it
    # the FDB move it used is marked as the state used
    assert page.locator("#flow-1 ol.cause li.root-cause.uses").count() == 1
    # a history row: its own chain replaces the first one
    link = page.locator('table.history a:has-text("#31")')
    link.click()
    assert page.locator("tr#step-31.sel").count() == 1
    assert "moved 52:54:00:12:34:01 from vnet0 to team1" in status.inner_text()
    assert page.locator(f'#flow-1 svg .seq-row.sel[data-step="{step}"]').count() == 0
    opened.check_clean()
    page.close()


def test_a_flow_collapses_and_expands(browser: Any, seed_report: Path) -> None:
    opened = Opened(browser, seed_report)
    page = opened.page
    body = page.locator("#flow-1 .decisive-box")
    assert body.is_visible()
    page.locator("#flow-1 > summary").click()
    assert body.is_hidden()
    assert page.evaluate("document.getElementById('flow-1').open") is False
    page.locator("#expand-all").click()
    assert body.is_visible()
    page.locator("#collapse-all").click()
    assert body.is_hidden()
    opened.check_clean()
    page.close()


def test_the_history_filter(browser: Any, seed_report: Path) -> None:
    opened = Opened(browser, seed_report)
    page = opened.page
    rows = page.locator("table.history tbody tr")
    total = rows.count()
    visible = page.locator("table.history tbody tr:visible")
    assert visible.count() == total > 5
    page.locator("#history-filter").fill("ge2")
    shown = visible.count()
    assert 0 < shown < total
    assert all("ge2" in visible.nth(i).inner_text() for i in range(shown))
    assert page.locator("#history-count").inner_text() == f"{shown} of {total} rows"
    page.locator("#history-filter").fill("")
    page.locator("#history-device").select_option("kvm1/br1")
    devices = {visible.nth(i).get_attribute("data-device") for i in range(visible.count())}
    assert devices == {"kvm1/br1"}
    opened.check_clean()
    page.close()


def test_hostile_names_render_as_text(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "hostile.html"
    path.write_text(build_report(run_file(tmp_path / "hostile.yaml", HOSTILE), "en"),
                    encoding="utf-8")
    opened = Opened(browser, path)
    page = opened.page
    assert page.locator("img").count() == 0
    assert page.evaluate("document.querySelectorAll('[onerror],[onload],b,iframe').length") == 0
    assert page.evaluate("document.scripts.length") == 2
    assert page.title() == "vnetlab report: hostile </script><script>alert(1)</script>"
    assert page.get_by_text(HOSTILE_VM, exact=False).count() > 3
    assert page.locator("svg.vnetlab-topology text", has_text=f"{HOSTILE_VM} (VM)").count() == 1
    page.locator("#flow-1 .decisive-box").click()               # the script still works
    assert HOSTILE_VM in page.locator("#selection").inner_text()
    opened.check_clean()
    page.close()


def test_screenshot_shows_the_problem_in_red(browser: Any, seed_report: Path) -> None:
    opened = Opened(browser, seed_report)
    page = opened.page
    topology = page.locator("svg.vnetlab-topology")
    box = topology.bounding_box()
    width, height, pixels = read_png(topology.screenshot())
    assert box is not None and abs(width - box["width"]) <= 2 and abs(height - box["height"]) <= 2
    colours = set(pixels)
    assert len(colours) > 20                                     # drawn, not blank
    red = sum(1 for r, g, b in pixels if r > 180 and g < 60 and b < 60)
    assert red > 100                                             # br1 and its port to team1
    header = page.locator("header")
    _, _, top = read_png(header.screenshot())
    assert len(set(top)) > 20                                    # the title and links drawn
    opened.check_clean()
    page.close()


def test_chinese_report(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "zh.html"
    path.write_text(build_report(run_case("team-roundrobin"), "zh"), encoding="utf-8")
    opened = Opened(browser, path)
    page = opened.page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    headings = page.locator("h2").all_inner_texts()
    assert headings[0] == "拓扑" and "失败的流" in headings
    assert "决定性的一步" in page.locator("#flow-1").inner_text()
    page.locator("#history-filter").fill("ge2")
    assert "显示" in page.locator("#history-count").inner_text()
    opened.check_clean()
    page.close()


def test_ci_turns_a_missing_browser_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="BROWSER TESTS NOT RUN"):
        unavailable("no chromium")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="BROWSER TESTS NOT RUN"):
        unavailable("no chromium")
