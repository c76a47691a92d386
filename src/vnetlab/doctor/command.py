"""``vnetlab doctor FILE_OR_DIR...``: the command behind cli.py's ``doctor``.

Exit status: 0; 1 when a finding reaches ``--fail-on`` (default error); 2 when an
input cannot be read or loaded (each problem at file:line:column with its key path;
the other inputs are still audited and reported) or the command line is wrong.
"""

from __future__ import annotations

import json
import sys

import click

FAIL_ON = ("error", "warning", "info")


def main(paths: tuple[str, ...], *, prove: bool, as_json: bool, fail_on: str, jobs: int,
         dask: str | None, only: tuple[str, ...], lang: str) -> int:
    from vnetlab.doctor import CHECKS, RANK, expand, selected
    from vnetlab.doctor.fleet import Task, run
    from vnetlab.doctor.render import text, to_json
    from vnetlab.i18n import t

    unknown = [o for o in only if not selected((o,))]
    if unknown:
        click.echo(f"error: --only {unknown[0]}: no check has that id or prefix (checks: "
                   f"{', '.join(CHECKS)})", err=True)
        return 2
    if jobs < 0:
        click.echo("error: --jobs must be 0 (one per CPU) or more", err=True)
        return 2
    inputs = expand(list(paths))
    task = Task(tuple(only), prove, "en" if as_json else lang)
    try:
        outcome = run(inputs, task, jobs=jobs, dask=dask)
    except ImportError:
        click.echo("error: --dask needs dask.distributed (pip install 'vnetlab[dask]')",
                   err=True)
        return 2
    except OSError as exc:
        click.echo(f"error: --dask {dask}: cannot reach the scheduler ({exc})", err=True)
        return 2
    reports = outcome.reports
    bad = any(r["errors"] for r in reports)
    limit = RANK[fail_on]
    failing = any(RANK[f["severity"]] <= limit for r in reports for f in r["findings"])
    status = 2 if bad else 1 if failing else 0
    checks = len(selected(tuple(only)))
    if as_json:
        sys.stdout.write(json.dumps(to_json(reports, status, outcome.engine), sort_keys=True,
                                    indent=2 if len(reports) <= 100 else None,
                                    ensure_ascii=False) + "\n")
    else:
        click.echo(text(reports, lang, checks=checks))
        if status == 1:
            click.echo(t("doctor.fail_on", lang, level=fail_on))
    if len(reports) > 1 or outcome.engine != "in-process":
        click.echo(t("doctor.engine", lang, inputs=len(reports), seconds=outcome.seconds,
                     engine=outcome.engine), err=True)
    return status
