"""Explanations as text, in the manner of ``ovs-appctl ofproto/trace``, or JSON."""

from __future__ import annotations

from vnetlab.explain.explain import Explanation
from vnetlab.i18n import note, t
from vnetlab.sim.time import format_time
from vnetlab.sim.trace import Step


def step_line(step: Step, marker: str = " ", lang: str = "en") -> str:
    """One step as explain prints it; ``lang`` translates the sentence (i18n.note),
    never the names, times, function or rule id."""
    ref = f"{step.fn}, {step.rule}" if step.rule else step.fn
    port = f" [{step.port}]" if step.port and not step.where.endswith("/" + step.port) else ""
    sep = "：" if lang == "zh" else ": "
    return (f" {marker} {format_time(step.time)}  {step.where}{port}{sep}{note(step.note, lang)}"
            f"  [{ref}]")


def text(explanation: Explanation, lang: str = "en") -> str:
    """The explanation as text; its question, verdict and summary are already in the
    language the Explainer was made with, the step sentences are translated here."""
    lines = [t("render.question", lang, question=explanation.question),
             t("render.verdict", lang, verdict=explanation.verdict), ""]
    if explanation.path:
        lines.append(t("render.path", lang))
        for step in explanation.path:
            lines.append(step_line(step, ">" if step is explanation.decisive else " ", lang))
        lines.append("")
    if explanation.decisive is not None:
        lines.append(t("render.decisive", lang))
        lines.append(step_line(explanation.decisive, ">", lang))
        lines.append("")
    if explanation.cause_step is not None:
        lines.append(t("render.root_cause", lang))
        for step in explanation.cause_path:
            lines.append(step_line(step, ">" if step is explanation.cause_step else " ", lang))
        lines.append("")
    if explanation.summary:
        lines.append(t("render.in_short", lang))
        lines.extend(f"  - {sentence}" for sentence in explanation.summary)
        lines.append("")
    return "\n".join(lines)
