"""The `[[deliver]]` targets as a Dagster resource: who gets which digests, and where a digest is
read in full (the link a delivery carries).

The targets hold only the NAMES of the environment variables with the secrets (`url_env`,
`password_env`); the values are read when a delivery is sent (`deliver.Deliverer`), so no run,
snapshot or metadata ever holds a webhook URL or a password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from sparky_resources.config import DeliverTarget, SparkyConfig
from sparky_resources.deliver import Deliverer
from sparky_resources.local_git import github_web_url

PUBLISHED_SUFFIX = ".html"  # GitHub Pages serves a published `.md` as `.html` (lib/index.py)


class DeliveryResource(dg.ConfigurableResource):
    """`[[deliver]]` (every target named), the data folder of the ledger, and the base of the
    links to full digests: `[publish].site_url` (served pages), else the docs repository's
    GitHub web URL (`.../blob/<branch>/<subdir>`), else no link."""

    targets: list[dict[str, Any]] = Field(default_factory=list)
    data_dir: str = "data"
    link_base: str | None = None
    link_suffix: str = PUBLISHED_SUFFIX
    max_wait_s: float = 120.0
    backoff_s: float = 1.0

    def target_models(self) -> list[DeliverTarget]:
        return [DeliverTarget.model_validate(t) for t in self.targets]

    def for_period(self, period: str) -> list[DeliverTarget]:
        return [t for t in self.target_models() if period in t.periods]

    def deliverer(self) -> Deliverer:
        return Deliverer(Path(self.data_dir), max_wait_s=self.max_wait_s, backoff_s=self.backoff_s)

    def digest_url(self, period: str, key: str, team: str | None = None) -> str | None:
        """Where the full digest is read; None when neither a site nor a GitHub docs
        repository is configured."""
        if self.link_base is None:
            return None
        folder = f"teams/{team}/{period}" if team else period
        return f"{self.link_base}/{folder}/{key}{self.link_suffix}"


def delivery_from_config(config: SparkyConfig) -> DeliveryResource:
    """The resource for `[[deliver]]` and the links its messages carry."""
    base, suffix = None, PUBLISHED_SUFFIX
    if config.publish.site_url:
        base = config.publish.site_url
    elif config.publish.remote and (web := github_web_url(config.publish.remote)):
        subdir = config.publish.subdir.strip("/")
        base = f"{web}/blob/{config.publish.branch}" + (f"/{subdir}" if subdir else "")
        suffix = ".md"
    return DeliveryResource(
        targets=[
            t.model_dump(mode="json", by_alias=True, exclude_none=True)
            for t in config.deliver_targets
        ],
        data_dir=str(config.data_dir),
        link_base=base,
        link_suffix=suffix,
    )
