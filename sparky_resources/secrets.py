"""Secrets from the environment: read in one place, trimmed, checked, and redacted in every form.

Sparky has two secrets, both only ever from the environment: `GITHUB_TOKEN` (GitHub's API) and
`SPARKY_PUBLISH_TOKEN` (pushing digests over https). A token saved from a Windows editor ends in
`\\r`; sent as it is, httpx refuses the header and quotes it back (`Illegal header value
b'Bearer ghp_…\\r'`), escaped, so a search for the raw token finds nothing to hide. So:

- surrounding whitespace is stripped (a trailing newline or `\\r` is how files and editors save
  a line, never part of a token);
- any other character outside printable ASCII (a control character, a space, a non-ASCII letter)
  is refused with one line that names the variable, the kind of character and its position,
  never the token: GitHub's tokens are `[A-Za-z0-9_]`
  (https://github.blog/changelog/2021-03-31-authentication-token-format-updates-are-generally-available/),
  and an HTTP header value cannot carry a line break (RFC 9110, section 5.5);
- `redact` hides each form a secret can take in an error text: raw, `repr`/`ascii`/JSON-escaped,
  as bytes, URL-encoded, and each piece of it either side of a line break or other character
  that splits it.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

from sparky_resources.config import ConfigError

GITHUB_TOKEN = "GITHUB_TOKEN"
PUBLISH_TOKEN = "SPARKY_PUBLISH_TOKEN"
# A piece of a secret split by a line break is redacted from this length on; shorter pieces
# would match ordinary words.
MIN_PIECE = 4
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_CONTROL_NAMES = {"\r": "carriage return", "\n": "line feed", "\t": "tab", "\0": "NUL"}


class SecretError(ConfigError):
    """A secret in the environment that cannot be used as it is; the line never shows it."""


def read_secret(name: str, env: Mapping[str, str] | None = None) -> SecretStr | None:
    """The secret `$name`, trimmed and checked; None when unset or blank."""
    return clean_secret(name, (os.environ if env is None else env).get(name))


def clean_secret(name: str, value: str | SecretStr | None) -> SecretStr | None:
    """`value` (the secret called `name`) without surrounding whitespace; SecretError when any
    other character is not printable ASCII; None when nothing is left."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not raw:
        return None
    text = raw.strip()
    if not text:
        return None
    lead = len(raw) - len(raw.lstrip())
    for index, char in enumerate(text):
        if "\x21" <= char <= "\x7e":
            continue
        what, detail = _kind(char)
        raise SecretError(
            f"{name} contains {what} ({detail}position {lead + index + 1}); re-save it without it"
        )
    return SecretStr(text)


def _kind(char: str) -> tuple[str, str]:
    """What a refused character is, in words; an invisible one by its code point (it cannot be
    part of a token), a visible non-ASCII one not at all (it might be)."""
    if char == " ":
        return "a space", ""
    if char.isascii():
        return "a control character", f"{_CONTROL_NAMES.get(char, f'U+{ord(char):04X}')}, "
    if unicodedata.category(char)[0] in "CZ":
        return "an invisible character", f"U+{ord(char):04X}, "
    return "a non-ASCII character", ""


def secret_forms(secret: str) -> list[str]:
    """Every way `secret` can be written in an error text, longest first (see module doc)."""
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        repr(secret.encode("latin-1", "backslashreplace"))[2:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
    }
    pieces = _PRINTABLE.findall(secret)
    if len(pieces) > 1 or (pieces and pieces[0] != secret):
        for piece in pieces:
            if len(piece) >= MIN_PIECE:
                forms.update({piece, quote(piece, safe=""), quote_plus(piece)})
    return sorted((f for f in forms if f), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | SecretStr | None], placeholder: str = "***") -> str:
    """`text` with every form of each secret replaced by `placeholder`."""
    forms: set[str] = set()
    for secret in secrets:
        raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if raw:
            forms.update(secret_forms(raw))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, placeholder)
    return text
