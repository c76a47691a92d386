"""Explanations as text, in the manner of ``ovs-appctl ofproto/trace``, or JSON."""

from __future__ import annotations

from vnetlab.explain.explain import Explanation
from vnetlab.sim.time import format_time
from vnetlab.sim.trace import Step


def step_line(step: Step, marker: str = " ") -> str:
    ref = f"{step.fn}, {step.rule}" if step.rule else step.fn
    port = f" [{step.port}]" if step.port and not step.where.endswith("/" + step.port) else ""
    return f" {marker} {format_time(step.time)}  {step.where}{port}: {step.note}  [{ref}]"


def text(explanation: Explanation) -> str:
    lines = [f"Question: {explanation.question}", f"Verdict:  {explanation.verdict}", ""]
    if explanation.path:
        lines.append("Path (each step caused by the one above):")
        for step in explanation.path:
            lines.append(step_line(step, ">" if step is explanation.decisive else " "))
        lines.append("")
    if explanation.decisive is not None:
        lines.append("Decisive step:")
        lines.append(step_line(explanation.decisive, ">"))
        lines.append("")
    if explanation.cause_step is not None:
        lines.append("Root cause: the state this decision used was set by:")
        for step in explanation.cause_path:
            lines.append(step_line(step, ">" if step is explanation.cause_step else " "))
        lines.append("")
    if explanation.summary:
        lines.append("In short:")
        lines.extend(f"  - {sentence}" for sentence in explanation.summary)
        lines.append("")
    return "\n".join(lines)
