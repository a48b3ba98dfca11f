"""`OrgResource`: what a run needs to know about the org besides its data and its services.

The timezone and start date (which days are partitions, where a window begins and ends) and
the identity rules (who is a bot, which identities are one person). Asset, check and sensor
bodies read configuration only through resources: this one, and GitHub's, Ollama's, the
store's and the publisher's own (defs/resources.py builds them all from `sparky.toml`).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from sparky_resources import clock
from sparky_resources.config import DEFAULT_BOT_PATTERNS, DigestSection, DoraSection

_DIGEST = DigestSection()
_DORA = DoraSection()


class OrgResource(dg.ConfigurableResource):
    """The org's calendar, identity rules, attention thresholds, teams and DORA settings, from
    `[sparky]`, `[identity]`, `[digest]`, `[publish].site_url`, `[teams]` and `[dora]`. The
    defaults are the config's, so a resource built by hand behaves as an empty `sparky.toml`
    would."""

    timezone: str = "UTC"
    start_date: str = "2025-01-01"  # the first daily partition, YYYY-MM-DD
    bots: list[str] = Field(default_factory=list)
    bot_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_BOT_PATTERNS))
    aliases: dict[str, str] = Field(default_factory=dict)
    review_wait_days: float = _DIGEST.review_wait_days
    answer_wait_days: float = _DIGEST.answer_wait_days
    site_url: str | None = None  # where published digests are served, no trailing slash
    # [teams]: config teams, name -> {"repos": [...], "paths": [...]} (both keys always there),
    # and whether the org's GitHub teams and CODEOWNERS add to them.
    teams: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    teams_from_github: bool = False
    # [dora]: "deployments" | "releases" | "tags", as validated by DoraSection.
    dora_source: str = _DORA.source
    dora_environment: str = _DORA.environment
    dora_tag_pattern: str = _DORA.tag_pattern
    dora_incident_labels: list[str] = Field(default_factory=lambda: list(_DORA.incident_labels))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_day(self) -> dt.date:
        return dt.date.fromisoformat(self.start_date)

    def today(self, now: dt.datetime | None = None) -> dt.date:
        """The org's today: the last daily partition."""
        return clock.local_date(now or dt.datetime.now(dt.UTC), self.tz)

    def window(self, period: clock.Period, key: str) -> clock.Window:
        return clock.window(period, key, self.tz)

    def is_day(self, key: str, now: dt.datetime | None = None) -> bool:
        """Whether `key` is a daily partition: start_date ... today in the org timezone."""
        return self.start_date <= key <= self.today(now).strftime(clock.DAY_FORMAT)

    def partition_days(self, window: clock.Window, now: dt.datetime | None = None) -> list[str]:
        """The window's days that are daily partitions (not before start_date, not after today)."""
        return [day for day in window.days if self.is_day(day, now)]
