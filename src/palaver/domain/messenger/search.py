"""Search text normalization, shared by indexing and querying so both sides fold the same way.

Folding: Unicode NFKD, combining marks dropped (Latin accents, Arabic harakat), the Arabic tatweel
dropped, case folded (``ß`` → ``ss``), NFC. A query becomes at most ``MAX_TERMS`` word terms, each
matched as a prefix; the storage dialect turns them into its own syntax.
"""

from __future__ import annotations

import re
import unicodedata

from palaver.errors import InvalidInput

MAX_QUERY = 256
MAX_TERMS = 8
_WORD_RE = re.compile(r"[^\W_]+")
_TATWEEL = "\u0640"


def fold(text: str) -> str:
    if text.isascii():  # nothing to decompose, strip or recompose (every message is folded on send)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and ch != _TATWEEL)
    return unicodedata.normalize("NFC", stripped.casefold())


def query_terms(query: str) -> tuple[str, ...]:
    """The folded word terms of a user's query; ``InvalidInput`` when it has none."""
    if len(query) > MAX_QUERY:
        raise InvalidInput(f"A search query has at most {MAX_QUERY} characters.", code="invalid_query")
    terms = tuple(dict.fromkeys(_WORD_RE.findall(fold(query))))[:MAX_TERMS]
    if not terms:
        raise InvalidInput("Search for at least one word.", code="invalid_query")
    return terms


def index_text(*parts: str | None) -> str:
    """The folded text a document is indexed under."""
    return " ".join(fold(part) for part in parts if part)
