"""The web client's translations: complete in every language, and every key the code uses exists.

How keys are found in the client's JS and HTML:

* explicit uses — ``t("…")``, ``data-i18n="…"`` / ``data-i18n-<attribute>="…"`` in HTML, and the DOM
  builder's ``i18n: "…"`` / ``i18nAriaLabel: "…"`` props — are always keys;
* any other string literal ``"<namespace>.<name>"`` whose namespace is one of en.json's
  (``landing``, ``auth``, ``errors`` …) is a key too (views pass keys around as ``title: "…"``,
  ``label: "…"``, ``flash("…")``);
* template literals ```errors.${code}``` are dynamic families whose members are checked separately.

Gateway method and event names — the first argument of ``request("…")`` and ``on("…")`` — are never
keys, whatever their namespace (``roulette.start`` is a method; ``roulette.action.start`` a label).
Any other dotted string that is not a key must use a namespace that is not an i18n one.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[3] / "src" / "palaver" / "web"
I18N = WEB / "i18n"
LANGUAGES = ("en", "ar", "fr", "de")
OTHER_LANGUAGES = tuple(lang for lang in LANGUAGES if lang != "en")

# Error codes the HTTP API can answer with; each needs a translated message.
API_ERROR_CODES = (
    "invalid_request",
    "malformed_json",
    "invalid_input",
    "invalid_username",
    "invalid_display_name",
    "invalid_bio",
    "invalid_languages",
    "weak_password",
    "invalid_password",
    "username_taken",
    "invalid_credentials",
    "unauthenticated",
    "rate_limited",
    "forbidden",
    "not_found",
    "already_registered",
    "conflict",
    "too_large",
    "unavailable",
    "invalid_token",
    "session_not_found",
    "user_not_found",
    "not_registered",
)
# Messages the client itself needs besides the API's codes.
CLIENT_ERROR_KEYS = ("generic", "network", "server_error", "required")

KEY = r"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"
EXPLICIT_USE = re.compile(
    rf"""(?:\bt\(\s*|\bdata-i18n(?:-[a-z-]+)?\s*=\s*|\bi18n(?:[A-Z][A-Za-z]*)?\s*:\s*)["'`]{KEY}["'`]"""
)
KEY_LITERAL = re.compile(rf"""["'`]{KEY}["'`]""")
DYNAMIC_FAMILY = re.compile(r"`([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*\.)\$\{")
GATEWAY_NAME = re.compile(rf"""\b(?:request|on)\(\s*["'`]{KEY}["'`]""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# Arabic values that rightly stay in Latin script: the product name and other languages' own names.
ARABIC_MAY_BE_LATIN = {"app.name", "language.autonym.en", "language.autonym.fr", "language.autonym.de"}
ARABIC_LETTER = re.compile(r"[\u0600-\u06FF]")


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicates, f"duplicate keys: {duplicates}"
    return dict(pairs)


@cache
def catalog(lang: str) -> dict[str, object]:
    text = (I18N / f"{lang}.json").read_text(encoding="utf-8")
    data = json.loads(text, object_pairs_hook=_reject_duplicates)
    assert isinstance(data, dict)
    return data


def client_sources() -> list[Path]:
    return sorted([*WEB.rglob("*.js"), *WEB.rglob("*.html")])


@cache
def source_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in client_sources())


def namespaces() -> set[str]:
    return {key.split(".", 1)[0] for key in catalog("en")}


def gateway_names() -> set[str]:
    return set(GATEWAY_NAME.findall(source_text()))


def explicit_keys() -> set[str]:
    return set(EXPLICIT_USE.findall(source_text()))


def literal_keys() -> set[str]:
    """Keys the client uses by name: explicit uses plus dotted literals in an i18n namespace."""
    text = GATEWAY_NAME.sub("", source_text())
    dotted = {key for key in KEY_LITERAL.findall(text) if key.split(".", 1)[0] in namespaces()}
    return explicit_keys() | dotted


def dynamic_families() -> set[str]:
    return set(DYNAMIC_FAMILY.findall(source_text()))


def js_string_array(path: Path, name: str) -> list[str]:
    match = re.search(rf"const {name} = \[([^\]]*)\]", path.read_text(encoding="utf-8"))
    assert match, f"{name} not found in {path}"
    return re.findall(r'"([^"]+)"', match.group(1))


def test_catalogs_are_exactly_the_supported_languages() -> None:
    assert sorted(path.stem for path in I18N.glob("*.json")) == sorted(LANGUAGES)
    assert js_string_array(WEB / "js" / "i18n.js", "LANGUAGES") == list(LANGUAGES)


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_same_keys_as_english(lang: str) -> None:
    english, other = set(catalog("en")), set(catalog(lang))
    missing, extra = sorted(english - other), sorted(other - english)
    assert not missing, f"missing in {lang}.json: {missing}"
    assert not extra, f"in {lang}.json but not in en.json: {extra}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_values_are_non_empty_strings(lang: str) -> None:
    bad = [key for key, value in catalog(lang).items() if not isinstance(value, str) or not value.strip()]
    assert not bad, f"empty or non-string values in {lang}.json: {bad}"


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_placeholders_match_english(lang: str) -> None:
    english, other = catalog("en"), catalog(lang)
    mismatched = [
        key
        for key, value in english.items()
        if key in other and set(PLACEHOLDER.findall(str(value))) != set(PLACEHOLDER.findall(str(other[key])))
    ]
    assert not mismatched, f"{lang}.json placeholders differ from en.json: {mismatched}"


def test_arabic_is_translated() -> None:
    untranslated = [
        key
        for key, value in catalog("ar").items()
        if key not in ARABIC_MAY_BE_LATIN and not ARABIC_LETTER.search(str(value))
    ]
    assert not untranslated, f"ar.json values without Arabic text: {untranslated}"


def test_scan_finds_keys() -> None:
    # Guards the scanner itself: if the patterns broke, the tests below would pass vacuously.
    assert {"app.name", "landing.pitch", "language.label", "shell.main_nav"} <= explicit_keys()
    assert {"auth.sign_in_title", "auth.signed_out", "sessions.last_active"} <= literal_keys()
    assert "errors." in dynamic_families()
    assert {"roulette.start", "roulette.matched"} <= gateway_names()
    assert "roulette.start" not in literal_keys()


def test_every_key_used_in_the_client_exists() -> None:
    english = catalog("en")
    missing = sorted(key for key in literal_keys() if key not in english)
    assert not missing, f"keys used in the web client but missing from en.json: {missing}"


def test_dynamic_key_families_are_complete() -> None:
    english = catalog("en")
    account_js = WEB / "js" / "views" / "account.js"
    expected = (
        [f"errors.{code}" for code in (*API_ERROR_CODES, *CLIENT_ERROR_KEYS)]
        + [f"account.kind.{kind}" for kind in ("guest", "registered")]
        + [f"account.role.{role}" for role in ("user", "moderator", "admin")]
        + [f"language.name.{code}" for code in js_string_array(account_js, "COMMON_LANGUAGES")]
        + [f"language.autonym.{code}" for code in LANGUAGES]
    )
    missing = [key for key in expected if key not in english]
    assert not missing, f"missing from en.json: {missing}"


def test_no_unused_keys() -> None:
    used, families = literal_keys(), dynamic_families()
    unused = sorted(key for key in catalog("en") if key not in used and not any(key.startswith(f) for f in families))
    assert not unused, f"keys in en.json that the web client never uses: {unused}"


PHYSICAL = re.compile(
    r"""(?x)
    \b(?:margin|padding|border|inset)-(?:left|right)\b   # margin-left, border-right-width …
    | \b(?:left|right)\s*:                               # left: 0
    | \b(?:float|clear|text-align)\s*:\s*(?:left|right)\b
    | \bborder-(?:top|bottom)-(?:left|right)-radius\b
    """
)


def test_stylesheets_use_logical_properties_only() -> None:
    offenders = [
        f"{path.relative_to(WEB)}:{number}: {line.strip()}"
        for path in sorted(WEB.rglob("*.css"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if PHYSICAL.search(line)
    ]
    assert not offenders, "use logical properties (inline-start/end) so RTL mirrors:\n" + "\n".join(offenders)
