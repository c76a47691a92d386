"""Pictures and a ticket attachment from one run: the topology diagram
(``diagram.py``: DOT, Mermaid, SVG) and the self-contained HTML report
(``html.py``, with the sequence diagrams of ``sequence.py``).

Importing the package registers its phrases (``strings.py``) into
``vnetlab.i18n.MESSAGES``.
"""

from __future__ import annotations

import os
import tempfile

from vnetlab.report.strings import register

register()


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder,
    renamed into place: a reader never sees a half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".vnetlab-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
