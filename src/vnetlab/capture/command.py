"""``vnetlab capture [-o FILE] [--netns NS] [--host NAME] [--raw]``: the command behind
cli.py's ``capture``. Exit 0 with the document written (atomically: a temporary file
renamed into place) or printed; 2 when the capture cannot be made (no such namespace,
not root) or the file cannot be written, with nothing written."""

from __future__ import annotations

import sys

import click


def main(output: str | None, netns: str | None, host: str | None, raw: bool, lang: str) -> int:
    from vnetlab.capture import CaptureError, capture, dump
    from vnetlab.capture.strings import register
    from vnetlab.i18n import t

    register()
    try:
        result = capture(netns=netns, host=host, raw=raw)
    except CaptureError as exc:
        click.echo(t("capture.error", lang, error=exc), err=True)
        click.echo(t("capture.nothing", lang), err=True)
        return 2
    text = dump(result)
    if output:
        from vnetlab.report import write_atomic

        try:
            write_atomic(output, text)
        except OSError as exc:
            click.echo(t("capture.error", lang, error=f"cannot write {output}: "
                         f"{exc.strerror or exc}"), err=True)
            click.echo(t("capture.nothing", lang), err=True)
            return 2
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    for note in result.notes:
        click.echo(t("capture.note", lang, note=note), err=True)
    counts = result.counts()
    click.echo(t("capture.summary", lang, path=output or "-", host=result.host,
                 seconds=f"{result.seconds:.2f}", notes=len(result.notes), **counts), err=True)
    if result.missing:
        click.echo(t("capture.missing", lang, tools=", ".join(result.missing)), err=True)
    return 0
