"""The per-run output file: streamed as chunks finish, read back by ``--resume``.

CSV (``-o FILE.csv``): the first line is a comment holding the sweep's parameters,
``# vnetlab-sweep 1 {json}`` (read the file with ``pandas.read_csv(FILE, comment="#")``
or skip one line), then the column names, then one line per run, appended chunk by
chunk: a chunk is written with one ``write``, flushed and ``fsync``-ed before the next
one. A record is one physical line (no field holds a newline), so a crash can leave at
most a last line without its newline: ``--resume`` drops it (and cuts it off the file)
and runs that run again. The file is created atomically (written under a temporary
name, then renamed), so its header is always whole.

Parquet (``-o FILE.parquet``, needs pyarrow): the records stream to ``FILE.parquet.part.csv``
(the CSV format above) and become ``FILE.parquet`` when the sweep completes (written
under a temporary name and renamed; the parameters in the schema metadata under
``vnetlab-sweep``); then the partial file is removed. ``--resume`` continues the
partial file, or re-reads a finished ``FILE.parquet``.

The parameters (``fingerprint``: SHA-256 of the document, the ``--vary`` options in
canonical form, ``--seed``, ``--runs`` and ``--paired``) must match for ``--resume``:
the records of another sweep would mix two experiments.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from vnetlab.sweep.measure import RunRecord, columns, from_row, to_row
from vnetlab.sweep.vary import Vary

MAGIC = "# vnetlab-sweep 1 "
PARQUET_META = b"vnetlab-sweep"


class StoreError(Exception):
    """The output file cannot be used (exit status 2)."""


@dataclass(slots=True)
class Existing:
    """What ``--resume`` found: the finished records and where to continue."""

    records: list[RunRecord] = field(default_factory=list)
    dropped_partial: bool = False
    complete_parquet: bool = False


def is_parquet(path: str) -> bool:
    return path.lower().endswith((".parquet", ".pq"))


def journal_path(path: str) -> str:
    """Where records stream to: the file itself (CSV) or its ``.part.csv`` (Parquet)."""
    return f"{path}.part.csv" if is_parquet(path) else path


def require_pyarrow(path: str) -> None:
    if not is_parquet(path):
        return
    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise StoreError(f"-o {path}: writing Parquet needs pyarrow (pip install pyarrow); "
                         "or write CSV: -o FILE.csv") from None


def header_mismatch(found: dict[str, Any], header: dict[str, Any]) -> list[str]:
    """What differs between a file's parameters and this command's, in option words."""
    words = {"document_sha256": "the topology document", "vary": "--vary", "seed": "--seed",
             "runs": "--runs", "paired": "--paired", "columns": "the columns"}
    out = []
    for key, word in words.items():
        if found.get(key) != header.get(key):
            if key in ("seed", "runs", "paired"):
                out.append(f"{word}: the file has {found.get(key)!r}, this command "
                           f"{header.get(key)!r}")
            elif key == "vary":
                out.append(f"--vary: the file has {found.get(key)}, this command "
                           f"{header.get(key)}")
            else:
                out.append(f"{word} differs")
    return out


def _check_header(path: str, found: Any, header: dict[str, Any]) -> None:
    if not isinstance(found, dict) or found.get("fingerprint") != header["fingerprint"]:
        problems = header_mismatch(found if isinstance(found, dict) else {}, header)
        raise StoreError(f"{path} holds another sweep ({'; '.join(problems) or 'other parameters'})"
                         ": --resume needs the same file, --vary, --seed, --runs and --paired "
                         "(or write to a new -o FILE)")


def read_existing(path: str, header: dict[str, Any], varies: list[Vary]) -> Existing:
    """The records already in ``path`` (or its journal) for ``--resume``; StoreError if
    they belong to another sweep or a line other than the last is damaged. A
    truncated last line is cut off the file."""
    if is_parquet(path) and os.path.exists(path):
        records = _read_parquet(path, header, varies)
        if os.path.exists(journal_path(path)):            # renamed, not yet removed
            os.unlink(journal_path(path))
        return Existing(records, complete_parquet=True)
    journal = journal_path(path)
    if not os.path.exists(journal):
        raise StoreError(f"--resume: {journal} does not exist (nothing to resume; drop "
                         "--resume to start the sweep)")
    with open(journal, "rb") as handle:
        data = handle.read()
    first, newline, rest = data.partition(b"\n")
    text = first.decode("utf-8", errors="replace")
    if not newline or not text.startswith(MAGIC):
        raise StoreError(f"{journal}: not a vnetlab sweep file (its first line is not "
                         f"'{MAGIC.strip()} ...')")
    try:
        found = json.loads(text[len(MAGIC):])
    except ValueError:
        raise StoreError(f"{journal}:1: the sweep header is not valid JSON") from None
    _check_header(journal, found, header)
    existing = Existing()
    end = len(rest)
    if rest and not rest.endswith(b"\n"):          # a crash cut the last record short
        end = rest.rfind(b"\n") + 1
        existing.dropped_partial = True
    body = rest[:end].decode("utf-8")
    reader = csv.reader(io.StringIO(body))
    want = columns(varies)
    seen: set[tuple[int, int]] = set()
    for line, row in enumerate(reader, start=2):
        if line == 2:
            if row != want:
                raise StoreError(f"{journal}:2: the columns are not those of this sweep")
            continue
        try:
            record = from_row(row, varies)
        except (ValueError, KeyError) as exc:
            raise StoreError(f"{journal}:{line}: damaged record ({exc}); only a truncated "
                             "last line can be repaired by --resume") from None
        if record.key not in seen:
            seen.add(record.key)
            existing.records.append(record)
    if existing.dropped_partial:
        with open(journal, "r+b") as handle:
            handle.truncate(len(first) + 1 + end)
            handle.flush()
            os.fsync(handle.fileno())
    return existing


class Writer:
    """Appends records chunk by chunk: whole lines, one write, fsync."""

    def __init__(self, path: str, header: dict[str, Any], varies: list[Vary], *,
                 resume: bool) -> None:
        self.path = path
        self.journal = journal_path(path)
        self.varies = varies
        self.header = header
        if not resume:
            self._create()
        self.handle = open(self.journal, "a", encoding="utf-8", newline="")  # noqa: SIM115

    def _create(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.journal))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sweep-", suffix=".tmp")
        try:
            os.fchmod(fd, file_mode())
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(MAGIC + json.dumps(self.header, sort_keys=True) + "\n")
                csv.writer(handle, lineterminator="\n").writerow(columns(self.varies))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.journal)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        _fsync_dir(folder)

    def write(self, records: list[RunRecord]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for record in records:
            writer.writerow(to_row(record, self.varies))
        with _sigint_deferred():          # a Ctrl-C must not cut a line in two
            self.handle.write(buffer.getvalue())
            self.handle.flush()
            os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()

    def finish(self, records: list[RunRecord]) -> None:
        """The sweep is complete: Parquet is written now (CSV already is)."""
        self.close()
        if is_parquet(self.path):
            write_parquet(self.path, self.header, self.varies, records)
            os.unlink(self.journal)


def file_mode() -> int:
    """What ``open()`` would have created (mkstemp makes 0600 files)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Ctrl-C (and SIGTERM) during the block is held back and acted on after it: a handler
    that does not raise lets the interrupted write() resume (PEP 475) instead of stopping
    half way through a line."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {signum: signal.signal(signum, lambda n, frame: caught.append(n))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    for number in caught[:1]:
        first = signal.Signals(number)
        handler = previous[first]
        if callable(handler):
            handler(first, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(first)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- Parquet ---------------------------------------------------------------------------------

def _column_type(values: list[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool} and kinds:
        return "bool"
    if kinds <= {int}:
        return "int"
    if kinds <= {int, float}:
        return "float"
    if kinds <= {str}:
        return "str"
    return "json"


def write_parquet(path: str, header: dict[str, Any], varies: list[Vary],
                  records: list[RunRecord]) -> None:
    pa: Any = importlib.import_module("pyarrow")          # untyped: imported as Any
    pq: Any = importlib.import_module("pyarrow.parquet")

    records = sorted(records, key=lambda r: r.key)
    data: dict[str, Any] = {"combination": pa.array([r.combination for r in records], pa.int32()),
                            "run": pa.array([r.run for r in records], pa.int32()),
                            "seed": pa.array([r.seed for r in records], pa.int64())}
    types = {}
    for vary in varies:
        values = [r.params.get(vary.path_text) for r in records]
        kind = _column_type(values)
        types[vary.path_text] = kind
        if kind == "json":
            data[vary.path_text] = pa.array([json.dumps(v, default=str) for v in values],
                                            pa.string())
        else:
            arrow = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(),
                     "str": pa.string()}[kind]
            data[vary.path_text] = pa.array(values, arrow)

    def js(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    data |= {
        "ok": pa.array([r.ok for r in records], pa.bool_()),
        "failed": pa.array([js(r.failed) for r in records], pa.string()),
        "outage_ns": pa.array([r.outage_ns for r in records], pa.int64()),
        "outage_never": pa.array([r.outage_never for r in records], pa.bool_()),
        "outage_flow": pa.array([r.outage_flow for r in records], pa.string()),
        "dhcp_wait_ns": pa.array([r.dhcp_wait_ns for r in records], pa.int64()),
        "dhcp_never": pa.array([r.dhcp_never for r in records], pa.bool_()),
        "dhcp_failed": pa.array([r.dhcp_failed for r in records], pa.bool_()),
        "dhcp_client": pa.array([r.dhcp_client for r in records], pa.string()),
        "flows": pa.array([js(r.flows) for r in records], pa.string()),
        "dhcp": pa.array([js(r.dhcp) for r in records], pa.string()),
        "error": pa.array([r.error for r in records], pa.string()),
    }
    table = pa.table(data)
    meta = dict(header) | {"param_types": types}
    table = table.replace_schema_metadata({PARQUET_META: json.dumps(meta, sort_keys=True)})
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sweep-", suffix=".parquet.tmp")
    os.fchmod(fd, file_mode())
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _read_parquet(path: str, header: dict[str, Any], varies: list[Vary]) -> list[RunRecord]:
    pq: Any = importlib.import_module("pyarrow.parquet")

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise StoreError(f"{path}: cannot read it as Parquet ({exc})") from None
    raw = (table.schema.metadata or {}).get(PARQUET_META)
    if raw is None:
        raise StoreError(f"{path}: not a vnetlab sweep file (no '{PARQUET_META.decode()}' "
                         "metadata)")
    found = json.loads(raw)
    _check_header(path, found, header)
    types = found.get("param_types", {})
    out = []
    for row in table.to_pylist():
        params = {}
        for vary in varies:
            value = row.get(vary.path_text)
            params[vary.path_text] = (json.loads(value) if types.get(vary.path_text) == "json"
                                      else value)
        out.append(RunRecord(
            row["combination"], row["run"], row["seed"], params, ok=row["ok"],
            failed=json.loads(row["failed"]), outage_ns=row["outage_ns"],
            outage_never=row["outage_never"], outage_flow=row["outage_flow"],
            dhcp_wait_ns=row["dhcp_wait_ns"], dhcp_never=row["dhcp_never"],
            dhcp_failed=row["dhcp_failed"], dhcp_client=row["dhcp_client"],
            flows=json.loads(row["flows"]), dhcp=json.loads(row["dhcp"]), error=row["error"]))
    return out
