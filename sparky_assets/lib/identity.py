"""Who is who: canonical identity keys and bot detection.

Git's `.mailmap` is applied at collection; `[identity].aliases` merges what mailmap does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# GitHub Apps commit as "<name>[bot]" with a users.noreply address ending in "[bot]@...".
_BOT_EMAIL_MARK = "[bot]@"


def identity_key(email: str, aliases: Mapping[str, str]) -> str:
    """The canonical identity of an author: the lowercased (aliased) email."""
    email = email.strip().lower()
    return aliases.get(email, email)


def bot_reason(name: str, email: str, bots: Iterable[str]) -> str | None:
    """Why an identity counts as a bot, or None for a human."""
    lowered = {b.lower() for b in bots}
    if name.lower() in lowered:
        return f"name {name!r} is listed in [identity].bots"
    local = email.lower().split("@", 1)[0].split("+", 1)[-1]
    if local in lowered:
        return f"email {email!r} is listed in [identity].bots"
    if name.lower().endswith("[bot]") or _BOT_EMAIL_MARK in email.lower():
        return "GitHub App identity ([bot])"
    return None
