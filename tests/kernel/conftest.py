"""Fixtures of the real-kernel validation suite.

* Every test in this directory gets the ``kernel`` marker.
* When namespaces are unavailable the tests are skipped with a loud reason, and a banner is
  printed in the terminal summary; with ``CI=true`` they FAIL instead (no silent skips in CI).
* ``lab`` yields a :class:`netns.Lab` whose finalizer stops the helper processes and deletes
  the namespaces, also when the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .netns import Lab, cleanup_all, in_ci, kernel_available, require_kernel, unavailable_reason

HERE = Path(__file__).resolve().parent


def _is_ours(item: pytest.Item) -> bool:
    return HERE in item.path.resolve().parents


KERNEL_ITEMS = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from tests/kernel as ``kernel``; count them."""
    ours = [item for item in items if _is_ours(item)]
    for item in ours:
        item.add_marker(pytest.mark.kernel)
    config.stash[KERNEL_ITEMS] = len(ours)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, with CI=true, fail) kernel tests when namespaces cannot be used."""
    if _is_ours(item):
        require_kernel()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A banner nobody can miss when kernel tests were collected but could not run."""
    if not terminalreporter.config.stash.get(KERNEL_ITEMS, 0) or kernel_available():
        return
    terminalreporter.write_sep("!", "KERNEL VALIDATION DID NOT RUN", red=True, bold=True)
    terminalreporter.write_line(f"reason: {unavailable_reason()}", red=True)
    consequence = "reported as failures (CI=true)" if in_ci() else "skipped (CI=true fails them)"
    terminalreporter.write_line(f"tests/kernel were {consequence}", red=True)


@pytest.fixture(scope="session", autouse=True)
def _namespace_safety_net() -> Iterator[None]:
    """Delete any namespace this session created that a test failed to release."""
    yield
    cleanup_all()


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh set of ``vnlk-<role>-<random>`` namespaces, removed after the test."""
    require_kernel()
    the_lab = Lab()
    try:
        yield the_lab
    finally:
        the_lab.close()
