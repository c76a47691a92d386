"""Golden traces: each built-in case's full trace, one step a line, as the
explain output prints it. A change in any decision, its order, its reason or
the function it cites shows up as a diff to review; refresh deliberately with
``pytest --update-golden`` and read the diff before committing it.

Long scenarios (more than FULL_LIMIT steps, e.g. the failover cases' steady
pings) keep the ``summary`` level: every state change (learn, move, flush,
link, neighbour, ping) and every drop, without the per-hop forwarding lines."""

from pathlib import Path

import pytest

import vnetlab
from vnetlab.catalog import case_paths
from vnetlab.explain.render import step_line

GOLDEN = Path(__file__).parent / "golden"


FULL_LIMIT = 3000


def render(name: str) -> str:
    spec = vnetlab.load_topology(str(case_paths()[name]))
    result = vnetlab.simulate(spec)
    level = "full"
    if len(result.trace.steps) > FULL_LIMIT:
        level = "summary"
        result = vnetlab.simulate(spec, trace=level)
    lines = [f"# {name}: golden trace (seed 0, {level} level); refresh with pytest --update-golden"]
    lines += [step_line(step) + (f"  <{step.reason}>" if step.reason else "")
              for step in result.trace.steps]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", sorted(case_paths()))
def test_trace_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    path = GOLDEN / f"{name}.trace"
    text = render(name)
    if request.config.getoption("--update-golden"):
        path.write_text(text)
    assert path.exists(), f"no golden trace for {name}: run pytest --update-golden"
    assert text == path.read_text(), f"{name}: trace changed; review with --update-golden + diff"
