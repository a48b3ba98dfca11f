"""Deliver layer: each digest's first screen posted to Slack, Discord, e-mail or a webhook.

`<period>_delivered_digests` (one per period, partitioned like the digests, downstream of them)
sends the window's digest to every `[[deliver]]` target that takes the period: the org's digest,
or with a target's `teams` those teams' digests. A delivery ledger under `data/deliveries/`
(`sparky_resources/deliver.py`) keeps a re-run, a retry or a sensor tick from posting twice.
A failed target never stops the others: every target is tried, then the step fails naming the
failed ones (one line each, secrets redacted), and a re-run sends only what is missing.

Only complete windows are delivered: a partial digest (today's, this week's) would be the one
delivered, and the complete one that replaces it would find the window already delivered. A
quiet window ("No activity") is not posted either: a chat message saying nothing is noise.

`deliver_new_digests` (a sensor, STOPPED by default, like publishing: it writes to other people's
channels) starts a delivery run for each digest materialized since its last tick.
"""

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from sparky_assets.defs.common import partitioned, range_label
from sparky_assets.lib.deliver_format import (
    content_from_sidecar,
    discord_payload,
    email_message,
    slack_payload,
    webhook_payload,
)
from sparky_assets.partitions import OrgPartitions
from sparky_resources.clock import PERIODS, UNIT, Period
from sparky_resources.config import DeliverTarget
from sparky_resources.deliver import Deliverer, Outcome
from sparky_resources.deliver_resource import DeliveryResource
from sparky_resources.store import DataStore

TEAM_PERIODS: tuple[Period, ...] = ("weekly", "monthly")  # team digests exist for these


def delivered_name(period: Period) -> str:
    return f"{period}_delivered_digests"


def _sidecar(output_dir: Path, period: Period, key: str, team: str | None) -> dict | None:
    folder = output_dir / "teams" / team / period if team else output_dir / period
    path = folder / f"{key}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _send(
    deliverer: Deliverer,
    delivery: DeliveryResource,
    target: DeliverTarget,
    period: Period,
    key: str,
    team: str | None,
    sidecar: dict,
) -> Outcome:
    """One digest to one target, in the target's format."""
    url = delivery.digest_url(period, key, team)
    if target.kind == "webhook":
        return deliverer.send_http(target, period, key, team, webhook_payload(sidecar, url))
    content = content_from_sidecar(sidecar, url, team)
    if target.kind == "slack":
        return deliverer.send_http(target, period, key, team, slack_payload(content))
    if target.kind == "discord":
        return deliverer.send_http(target, period, key, team, discord_payload(content))
    assert target.sender is not None
    message = email_message(content, target.sender, list(target.to))
    return deliverer.send_email(target, period, key, team, message)


def deliver_window(
    delivery: DeliveryResource, output_dir: Path, period: Period, key: str
) -> tuple[list[Outcome], list[str]]:
    """Every delivery of one window: the outcomes, and why digests were not sent (partial,
    quiet, not written) as lines for the run's log."""
    deliverer = delivery.deliverer()
    outcomes: list[Outcome] = []
    notes: list[str] = []
    for target in delivery.for_period(period):
        teams: list[str | None] = [None] if target.teams is None else list(target.teams)
        if target.teams is not None and period not in TEAM_PERIODS:
            continue  # no daily team digests
        for team in teams:
            what = f"{period} {key}" + (f" of team {team}" if team else "")
            sidecar = _sidecar(output_dir, period, key, team)
            if sidecar is None:
                notes.append(f"{target.name}: no {what} digest on disk; not delivered")
                continue
            if sidecar.get("partial"):
                notes.append(
                    f"{target.name}: the {what} digest is partial; delivered once complete"
                )
                continue
            if sidecar.get("quiet"):
                notes.append(f"{target.name}: the {what} digest is quiet; nothing to post")
                continue
            outcomes.append(_send(deliverer, delivery, target, period, key, team, sidecar))
    return outcomes, notes


def _summary(outcomes: list[Outcome]) -> dict[str, str]:
    """What was delivered where: target (and team) -> status; never a URL."""
    return {
        f"{o.target}" + (f" ({o.team})" if o.team else ""): o.status
        + (f": {o.error}" if o.error else "")
        for o in outcomes
    }


def delivered_asset(period: Period, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name=delivered_name(period),
        group_name="deliver",
        deps=[f"{period}_digest"],
        kinds={"slack", "discord", "email"},
        **partitioned(partitions),
        description=(
            f"The {UNIT[period]}'s digest posted to each [[deliver]] target taking "
            f"{period} digests (Slack, Discord, e-mail, webhook): its first screen and a link "
            "to the full digest, within each platform's limits, never a mass mention. A ledger "
            "in data/deliveries/ keeps re-runs from posting twice; only complete, non-quiet "
            "windows are posted. Metadata: what went where (no URLs)."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, store: DataStore, delivery: DeliveryResource
    ) -> dg.MaterializeResult:
        output_dir = Path(store.output_dir)
        everything: list[Outcome] = []
        for key in context.partition_keys:
            outcomes, notes = deliver_window(delivery, output_dir, period, key)
            for note in notes:
                context.log.info(note)
            for o in outcomes:
                line = f"{o.target} {period} {key}" + (f" ({o.team})" if o.team else "")
                if o.status == "failed" or o.status == "unknown":
                    context.log.warning(f"{line}: {o.status}: {o.error}")
                else:
                    context.log.info(f"{line}: {o.status}")
            everything.extend(outcomes)
        counts = {s: sum(o.status == s for o in everything) for s in _STATUSES}
        failed = [o for o in everything if o.status in ("failed", "unknown")]
        metadata: dict[str, Any] = {
            "range": range_label(list(context.partition_keys)),
            **counts,
            "targets": dg.MetadataValue.json(_summary(everything)),
        }
        if failed:
            raise dg.Failure(
                description="; ".join(f"{o.target} {o.period} {o.key}: {o.error}" for o in failed),
                metadata=metadata,
            )
        return dg.MaterializeResult(metadata=metadata)

    return _asset


_STATUSES = ("delivered", "already", "failed", "unknown")


def build_delivery_assets(parts: OrgPartitions) -> list[dg.AssetsDefinition]:
    return [delivered_asset(period, parts.of(period)) for period in PERIODS]


def build_delivery_automation(
    parts: OrgPartitions,
) -> tuple[list[Any], list[dg.SensorDefinition]]:
    """A delivery job per period and the sensor that starts them for new digests."""
    jobs = {
        period: dg.define_asset_job(
            f"{period}_deliver_job",
            selection=dg.AssetSelection.assets(delivered_name(period)),
            description=f"Post the {UNIT[period]}'s digest to the [[deliver]] targets.",
        )
        for period in PERIODS
    }
    monitored = [dg.AssetKey(f"{period}_digest") for period in PERIODS]
    monitored += [dg.AssetKey(f"team_{period}_digest") for period in TEAM_PERIODS]
    monitored = monitored if parts.teams is not None else monitored[: len(PERIODS)]

    # As publish_new_digests (defs/publish.py): Dagster 1.13 keeps multi-asset sensors for side
    # effects ("a specific job must be targeted for execution"); posting to chat is one. That
    # warning only, only here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        sensor = dg.multi_asset_sensor(
            name="deliver_new_digests",
            monitored_assets=monitored,
            jobs=list(jobs.values()),
            minimum_interval_seconds=60,
            default_status=dg.DefaultSensorStatus.STOPPED,
            description=(
                "Delivers each digest (org or team) materialized since the last tick to the "
                "[[deliver]] targets. Stopped by default: turn it on once the targets' environment "
                "variables are set. The ledger makes a repeated request post nothing new."
            ),
        )

    def deliver_new_digests(context: dg.MultiAssetSensorEvaluationContext) -> Iterator[Any]:
        seen: dict[tuple[str, str], int] = {}
        for asset_key in monitored:
            name = asset_key.to_user_string()
            period = next(p for p in PERIODS if name in (f"{p}_digest", f"team_{p}_digest"))
            for partition, record in context.latest_materialization_records_by_partition(
                asset_key
            ).items():
                key = _window_key(partition)
                seen[(period, key)] = max(seen.get((period, key), 0), record.storage_id)
        context.advance_all_cursors()
        if not seen:
            yield dg.SkipReason("no digest materialized since the last tick")
            return
        for (period, key), storage_id in sorted(seen.items()):
            yield dg.RunRequest(
                run_key=f"deliver-{period}-{key}-{storage_id}",
                job_name=f"{period}_deliver_job",
                partition_key=key,
            )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        deliver_sensor = sensor(deliver_new_digests)
    return list(jobs.values()), [deliver_sensor]


def _window_key(partition: str) -> str:
    """A digest's window key: the partition itself, or a team digest's time dimension (a
    multi-partition key is "<team>|<key>": dimensions joined in name order, team < week)."""
    parts = str(partition).split("|")
    return next((p for p in parts if _DAY.fullmatch(p)), parts[-1])


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
