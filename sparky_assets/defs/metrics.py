"""Metrics layer: every window's figures computed from its own raw records, one file per window.

Daily, weekly (Monday) and monthly windows each read the raw files of their days (weekly and
monthly through `TimeWindowPartitionMapping`) and compute their own numbers: distinct counts
and medians do not add up, so a week is never the sum of its days' files. Definitions:
docs/metrics.md.

Each window's metrics asset also writes the window's facts (`lib/facts.WindowFacts`: the LLM's
fact sheet, the failed repositories, the coverage of its days and what a digest may link to)
to `data/processed/<period>_facts/<key>.json`, from the raw records it has just read: it is
their one producer, and insights, digests and checks read that file, never the raw files.
"""

import math
import warnings
from collections.abc import Iterable

import dagster as dg

from sparky_assets.defs.collect import LOCAL_TAGS, read_first_commits
from sparky_assets.defs.common import (
    COVERAGE,
    partition_metadata,
    partitioned,
    range_label,
)
from sparky_assets.defs.github import GITHUB_COVERAGE
from sparky_assets.defs.identity import CONTRIBUTORS, load_contributors
from sparky_assets.lib.delivery import (
    LOOKBACK_DAYS,
    DeliveryRecords,
    DoraSettings,
    deployments_of,
    dora_figures,
    dora_inputs,
    incident_item,
    slim_commit,
)
from sparky_assets.lib.facts import WindowFacts, window_facts
from sparky_assets.lib.identity import ContributorsTable
from sparky_assets.lib.team_scope import (
    OWNERSHIP,
    covered_repos,
    ownership,
    team_inputs,
    team_names,
)
from sparky_assets.lib.teams import Ownership
from sparky_assets.lib.window import (
    TeamRow,
    WindowInputs,
    WindowMetrics,
    change_against,
    compute_window_metrics,
)
from sparky_assets.partitions import OrgPartitions
from sparky_resources.clock import PERIODS, UNIT, Period, Window, previous_key, previous_window
from sparky_resources.models import Coverage
from sparky_resources.org import OrgResource
from sparky_resources.store import DataStore, MissingDataError, StoreError

RAW = ("raw_commits", "raw_pull_requests", "raw_issues", "raw_releases", "raw_backlog")
# Read by weekly and monthly windows only: DORA's deployments and the teams' ownership.
DELIVERY_RAW = ("raw_deployments", OWNERSHIP)
# Plain numbers per partition in the materialization metadata: the UI plots them over time.
PLOTTED = (
    "commits",
    "human_commits",
    "merges",
    "active_contributors",
    "human_contributors",
    "new_contributors",
    "lines_added",
    "lines_deleted",
    "files_changed",
    "active_repos",
    "prs_opened",
    "prs_merged",
    "issues_opened",
    "issues_closed",
    "releases",
    "caf",
)


class MissingDaysError(Exception):
    """Days of a window whose raw files are not on disk."""


def load_window_inputs(store: DataStore, org: OrgResource, window: Window) -> WindowInputs:
    """The raw records of the window's days that are daily partitions (not before start_date,
    not after today). A partition whose files are missing fails the window, naming the days."""
    inputs = WindowInputs()
    missing: list[str] = []
    repos: set[str] = set()
    for key in org.partition_days(window):
        if not store.path("raw", "raw_commits", key).exists():
            missing.append(key)
            continue
        inputs.days_collected.append(key)
        inputs.local_tags.extend(store.read_or("raw", LOCAL_TAGS, key, []))
        for info in store.read_or("raw", "repositories", key, []):
            if info.get("web_url"):
                inputs.web_urls[info["name"]] = info["web_url"]
        day = store.read("raw", "raw_commits", key)
        inputs.commits.extend(day)
        inputs.day_commits[key] = sum(1 for c in day if not c.get("is_merge"))
        coverage = store.read_or("raw", COVERAGE, key, {"repos": []})
        repos.update(r["repo"] for r in coverage["repos"] if r["status"] == "ok")
        github = store.read_or("raw", GITHUB_COVERAGE, key, None)
        if not github or not github.get("configured"):
            continue
        inputs.github_days += 1
        inputs.pull_requests.extend(store.read_or("raw", "raw_pull_requests", key, []))
        inputs.issues.extend(store.read_or("raw", "raw_issues", key, []))
        inputs.releases.extend(store.read_or("raw", "raw_releases", key, []))
        inputs.backlog = store.read_or("raw", "raw_backlog", key, None)
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise MissingDaysError(
            f"the {window.period} window {window.key} needs raw_commits for {shown}; "
            f"materialize the collect assets for those days first"
        )
    inputs.repos = sorted(repos)
    _read_first_commits(store, inputs)
    if inputs.github_days:
        _read_lookback(store, org, window, inputs)
    return inputs


def _read_first_commits(store: DataStore, inputs: WindowInputs) -> None:
    """Each author email's first commit over the collected clones' whole history."""
    complete = bool(inputs.repos)
    for repo in inputs.repos:
        listing = read_first_commits(store, repo)
        if listing is None or not listing.complete:
            complete = False
        for email, first in (listing.identities if listing else {}).items():
            seen = inputs.first_commits.get(email)
            if seen is None or first.authored_ts < seen:
                inputs.first_commits[email] = first.authored_ts
    inputs.first_commits_complete = complete


def _read_lookback(
    store: DataStore, org: OrgResource, window: Window, inputs: WindowInputs
) -> None:
    """The pull requests and issues of the days before the window, as far back as the longest
    attention wait: one opened then crosses its threshold inside the window."""
    reach = math.ceil(max(org.review_wait_days, org.answer_wait_days)) + 1
    first = window.days[0]
    for steps in range(reach, 0, -1):
        day = previous_key("daily", first, steps)
        inputs.lookback_pull_requests.extend(store.read_or("raw", "raw_pull_requests", day, []))
        inputs.lookback_issues.extend(store.read_or("raw", "raw_issues", day, []))


def window_coverage(store: DataStore, window: Window) -> list[Coverage]:
    """The coverage files of the window's collected days, oldest first."""
    out = []
    for day in window.days:
        raw = store.read_or("raw", COVERAGE, day, None)
        if raw:
            out.append(Coverage.model_validate(raw))
    return out


def facts_asset_name(period: Period) -> str:
    """Where a window's facts are stored: data/processed/<period>_facts/<key>.json."""
    return f"{period}_facts"


def read_window_facts(store: DataStore, period: Period, key: str) -> WindowFacts:
    """The window's facts as its metrics asset wrote them; when there are none, a StoreError
    that says to materialize the metrics (a metrics file written before the facts existed has
    none)."""
    try:
        raw = store.read("processed", facts_asset_name(period), key)
    except MissingDataError:
        path = store.path("processed", facts_asset_name(period), key)
        raise MissingDataError(
            f"{period}_metrics has written no facts for {key} ({path}); materialize "
            f"{period}_metrics for {key} first"
        ) from None
    return WindowFacts.model_validate(raw)


def upstream_facts(store: DataStore, period: Period, key: str) -> WindowFacts:
    """`read_window_facts` for an asset downstream of the metrics: a missing or unreadable file
    fails the step with the line that says what to do."""
    try:
        return read_window_facts(store, period, key)
    except StoreError as exc:
        raise dg.Failure(description=str(exc)) from None


def measure_window(
    store: DataStore,
    org: OrgResource,
    period: Period,
    key: str,
    *,
    table: ContributorsTable | None,
    history: Iterable[str] | None,
) -> tuple[WindowMetrics, WindowInputs]:
    """One window's metrics, with the change against the previous window of the same kind, and
    the window's raw records they were computed from.

    The previous window is computed from its own raw files too (not read from its metrics
    file), so a window's file depends only on raw data and the contributors table; when the
    previous window has no collected day, the change is empty ("not available"). Its metrics
    file could differ: it was written with the contributors table and raw files of its own
    run (new contributors, a day collected again since), or not at all.
    """
    days = set(history) if history is not None else None

    def compute(window: Window) -> tuple[WindowMetrics, WindowInputs]:
        inputs = load_window_inputs(store, org, window)
        return measure_inputs(org, window, inputs, table=table, history=days), inputs

    window = org.window(period, key)
    current, inputs = compute(window)
    before = previous_window(window)
    before_key = before.key
    previous: WindowMetrics | None = None
    try:
        candidate, _ = compute(before)
        previous = candidate if candidate.days_collected else None
    except MissingDaysError:
        previous = None
    current.previous_partition = before_key if previous is not None else None
    current.change = change_against(current, previous)
    if period != "daily":
        add_delivery(store, org, window, current, inputs, table=table, history=days)
    return current, inputs


def measure_inputs(
    org: OrgResource,
    window: Window,
    inputs: WindowInputs,
    *,
    table: ContributorsTable | None,
    history: Iterable[str] | None,
) -> WindowMetrics:
    """`compute_window_metrics` with the org's identity rules and attention thresholds."""
    return compute_window_metrics(
        window,
        inputs,
        table=table,
        history=set(history) if history is not None else None,
        bots=org.bots,
        bot_patterns=org.bot_patterns,
        aliases=org.aliases,
        review_wait_days=org.review_wait_days,
        answer_wait_days=org.answer_wait_days,
    )


def dora_settings(org: OrgResource) -> DoraSettings:
    return DoraSettings(
        source=org.dora_source,  # type: ignore[arg-type]
        environment=org.dora_environment,
        tag_pattern=org.dora_tag_pattern,
        incident_labels=tuple(org.dora_incident_labels),
    )


def load_delivery_records(
    store: DataStore, org: OrgResource, window: Window, settings: DoraSettings
) -> DeliveryRecords:
    """The records DORA reads: the window's days and the `LOOKBACK_DAYS` before them (a change
    committed earlier and first deployed in the window; the deployment before a failure).

    Deployments, releases and tags first; commits and incident items only where the source has
    a deployment at all (an org that neither deploys through GitHub nor releases pays nothing),
    and only the fields DORA reads of them."""
    first = window.days[0]
    days = [previous_key("daily", first, steps) for steps in range(LOOKBACK_DAYS, 0, -1)]
    days += list(org.partition_days(window))
    records = DeliveryRecords()
    github_days = []
    for day in days:
        records.local_tags.extend(store.read_or("raw", LOCAL_TAGS, day, []))
        github = store.read_or("raw", GITHUB_COVERAGE, day, None)
        if not github or not github.get("configured"):
            continue
        records.github = True
        github_days.append(day)
        records.deployments.extend(store.read_or("raw", "raw_deployments", day, []))
        records.releases.extend(store.read_or("raw", "raw_releases", day, []))
    if not deployments_of(records, settings):
        return records
    labels = settings.incident_labels
    for day in days:
        records.commits.extend(map(slim_commit, store.read_or("raw", "raw_commits", day, [])))
    for day in github_days:
        for kind in ("raw_pull_requests", "raw_issues"):
            for item in store.read_or("raw", kind, day, []):
                if (kept := incident_item(item, labels)) is not None:
                    records.items.append(kept)
    return records


def read_ownership(store: DataStore, org: OrgResource, window: Window) -> dict | None:
    """The teams and CODEOWNERS as collected on the window's last collected day (None: never
    collected from GitHub, or `[teams].from_github` is off)."""
    if not org.teams_from_github:
        return None
    for day in reversed(list(org.partition_days(window))):
        snapshot = store.read_or("raw", OWNERSHIP, day, None)
        if snapshot and snapshot.get("collected"):
            return snapshot
    return None


def window_ownership(
    store: DataStore, org: OrgResource, window: Window
) -> tuple[Ownership, list[str]]:
    """Who owns what in a window, and every team's key."""
    snapshot = read_ownership(store, org, window)
    login = (snapshot or {}).get("org")
    return ownership(org.teams, snapshot, login), team_names(org.teams, snapshot)


def measure_team(
    org: OrgResource,
    window: Window,
    inputs: WindowInputs,
    owner: Ownership,
    team: str,
    *,
    table: ContributorsTable | None,
    history: Iterable[str] | None,
) -> tuple[WindowMetrics, WindowInputs]:
    """One team's metrics of a window: the org's definitions over the team's records."""
    cut = team_inputs(inputs, owner, team, org.tz)
    metrics = measure_inputs(org, window, cut, table=table, history=history)
    metrics.team = team
    return metrics, cut


def add_delivery(
    store: DataStore,
    org: OrgResource,
    window: Window,
    metrics: WindowMetrics,
    inputs: WindowInputs,
    *,
    table: ContributorsTable | None,
    history: Iterable[str] | None,
) -> None:
    """DORA's four keys and the Teams table of a weekly or monthly window."""
    settings = dora_settings(org)
    records = load_delivery_records(store, org, window, settings)
    inputs_of_dora = dora_inputs(records, settings)  # read once, cut per team below
    if records.github or settings.source != "deployments":
        metrics.dora = dora_figures(inputs_of_dora, settings, window.start, window.end)
    owner, names = window_ownership(store, org, window)
    for team in names:
        team_metrics, cut = measure_team(
            org, window, inputs, owner, team, table=table, history=history
        )
        prs = team_metrics.pull_requests
        shipped = team_metrics.shipped
        repos = covered_repos(cut)
        deployments = None
        if metrics.dora is not None:
            deployments = dora_figures(
                inputs_of_dora, settings, window.start, window.end, repos=repos
            ).overall.deployments
        metrics.teams.append(
            TeamRow(
                team=team,
                commits=team_metrics.human_commits or 0,
                prs_merged=team_metrics.prs_merged,
                first_review_median_h=prs.time_to_first_review.median_h if prs else None,
                merge_median_h=prs.time_to_merge.median_h if prs else None,
                attention=len(shipped.attention) if shipped and prs else None,
                deployments=deployments,
                repos=sorted(repos),
            )
        )


def write_window(
    store: DataStore,
    org: OrgResource,
    period: Period,
    key: str,
    *,
    table: ContributorsTable | None,
    history: Iterable[str] | None,
) -> WindowMetrics:
    """Write one window's metrics file and its facts file (see the module's docstring)."""
    metrics, inputs = measure_window(store, org, period, key, table=table, history=history)
    stored = metrics.model_dump(mode="json")
    # The facts are built from the metrics as readers get them: read back from their JSON.
    facts = window_facts(
        WindowMetrics.model_validate(stored),
        inputs,
        window_coverage(store, org.window(period, key)),
    )
    store.write("processed", f"{period}_metrics", key, stored)
    store.write("processed", facts_asset_name(period), key, facts.model_dump(mode="json"))
    return metrics


def metrics_asset(period: Period, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    name = f"{period}_metrics"
    mapping = None
    if period != "daily":
        with warnings.catch_warnings():
            # Beta in 1.13: the first week/month starts before start_date (no daily partition).
            warnings.simplefilter("ignore", dg.BetaWarning)
            mapping = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)
    raws = RAW if period == "daily" else (*RAW, *DELIVERY_RAW)
    deps = [dg.AssetDep(raw, partition_mapping=mapping) for raw in raws]
    deps.append(dg.AssetDep(CONTRIBUTORS))
    unit = "week (Monday to Sunday)" if period == "weekly" else UNIT[period]

    @dg.asset(
        name=name,
        group_name="metrics",
        deps=deps,
        kinds={"pandas", "json"},
        **partitioned(partitions),
        description=(
            f"Every figure of the {unit} computed from its own raw records: activity (humans "
            "and everyone), new and gone-quiet contributors, pull requests, issues, releases, "
            "Contributor Absence Factor, and the change against the previous "
            f"{unit.split(' ')[0]}. Definitions: docs/metrics.md. "
            f"Stored in data/processed/{name}/{{key}}.json, and the window's facts for its "
            "insights, digest and checks in "
            f"data/processed/{facts_asset_name(period)}/{{key}}.json."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, store: DataStore, org: OrgResource
    ) -> dg.MaterializeResult:
        table, history = load_contributors(store)
        if table is None:
            context.log.warning(
                "contributors has not been materialized: identities are resolved from the "
                "window's records alone, everyone active counts as new, and gone-quiet is not "
                "available"
            )
        per_key: dict[str, dict[str, object]] = {}
        for key in context.partition_keys:
            try:
                metrics = write_window(store, org, period, key, table=table, history=history)
            except MissingDaysError as exc:
                raise dg.Failure(description=str(exc)) from None
            per_key[key] = {
                figure: getattr(metrics, figure)
                for figure in PLOTTED
                if getattr(metrics, figure) is not None
            }
        partition_metadata(context, per_key)
        return dg.MaterializeResult(metadata={"range": range_label(list(context.partition_keys))})

    return _asset


def build_metrics_assets(parts: OrgPartitions) -> list[dg.AssetsDefinition]:
    return [metrics_asset(period, parts.of(period)) for period in PERIODS]
