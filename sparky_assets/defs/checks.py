"""Asset checks on the metrics and digests: consistency, grounding and freshness.

Partitioned checks (`@asset_check(partitions_def=...)`, a preview feature in Dagster 1.13) are
given the run's partitions like an asset: one key in a single-partition run, the whole range in
a single-run backfill, where `context.partition_keys` holds every key and `AssetCheckResult`
would record one unpartitioned result. Each check therefore yields one `AssetCheckEvaluation`
per partition through `common.partition_checks`, as the assets' own checks do.

- `daily_metrics` / `commits_match_raw` (ERROR, blocking): the day's `commits` and `merges` are
  the non-merge and merge rows of its raw_commits file. A mismatch means the metrics file does
  not describe the raw data, and the insights and digest built from it would repeat wrong
  numbers: blocking keeps them from running in the same run.
- `weekly_metrics` / `additive_figures_match_days` (WARN): a week's additive figures equal the
  sums of its days' daily metrics files. Both are computed from the same raw files, so a
  difference means one of them is stale; the weekly digest is still right about its own raw
  data, hence a warning. Days without a daily metrics file are named; the check passes with
  that note when the present days add up (a missing day had nothing additive, or was not
  collected when the week was), and fails, naming them, when they do not.
- `<period>_digest` / `summary_grounded` (WARN, not blocking): nothing the grounding dropped is
  in the digest's summary, every link there points to a pull request, issue or commit in the
  window's raw data (as its metrics asset recorded them in the window's facts), and no raw
  HTML tag or live @mention is in it (as CommonMark reads it). The digest is already on
  disk when the check runs (a weekly or monthly one already listed in the index), so blocking
  could only stop the daily job's `digest_index` in the same run, while
  `publish_new_digests` publishes on the digest's materialization whatever its checks say:
  blocking would leave the index stale without protecting anything.
- `daily_digest` / `yesterday_digest_by_2am` (WARN, unpartitioned): yesterday's digest exists
  by 02:00 in the org timezone. Evaluated at any time (it passes before 02:00);
  `digest_freshness_schedule` runs it alone at 02:05 through `digest_freshness_job`, as of the
  tick's scheduled time (run config `now`, which tests set too).
"""

import datetime as dt
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from markdown_it import MarkdownIt
from pydantic import ValidationError

from sparky_assets.defs.automation import automation_status
from sparky_assets.defs.check_evaluations import partition_checks
from sparky_assets.defs.metrics import read_window_facts
from sparky_assets.lib.facts import WindowRefs
from sparky_assets.lib.insights import Insights
from sparky_assets.lib.render import without_front_matter
from sparky_assets.lib.sanitize import WORD_JOINER, md_text
from sparky_assets.partitions import OrgPartitions
from sparky_resources import clock
from sparky_resources.clock import PERIODS, Period, parse_instant
from sparky_resources.github_collect import GitHubResource
from sparky_resources.org import OrgResource
from sparky_resources.store import DataStore, StoreError

ADDITIVE = ("commits", "merges", "lines_added", "lines_deleted", "files_changed", "bot_commits")
FRESH_BY = dt.time(2, 0)
KEY_NUMBERS = "\n## Key numbers"


# --- the comparisons (pure) ----------------------------------------------------------------


@dataclass
class Verdict:
    """A check's outcome for one partition: passed, one line saying why, and figures."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def daily_consistency(metrics: Mapping[str, Any], raw: Sequence[Mapping[str, Any]]) -> Verdict:
    """The day's `commits` are its raw non-merge rows and `merges` its merge rows."""
    rows = {
        "commits": sum(1 for r in raw if not r.get("is_merge")),
        "merges": sum(1 for r in raw if r.get("is_merge")),
    }
    wrong = [
        f"{name} is {metrics.get(name)} in daily_metrics but raw_commits has {n} "
        + ("non-merge" if name == "commits" else "merge")
        + " rows"
        for name, n in rows.items()
        if metrics.get(name) != n
    ]
    meta = {
        "metrics_commits": metrics.get("commits"),
        "raw_non_merge_rows": rows["commits"],
        "metrics_merges": metrics.get("merges"),
        "raw_merge_rows": rows["merges"],
    }
    if wrong:
        return Verdict(False, "; ".join(wrong), meta)
    return Verdict(True, f"{rows['commits']} commits and {rows['merges']} merges, as raw", meta)


def weekly_consistency(
    week: Mapping[str, Any], days: Mapping[str, Mapping[str, Any] | None]
) -> Verdict:
    """A week's additive figures against the sums of its days' metrics (None: file missing)."""
    present = {d: m for d, m in days.items() if m is not None}
    missing = sorted(d for d, m in days.items() if m is None)
    sums = {f: sum(int(m.get(f) or 0) for m in present.values()) for f in ADDITIVE}
    wrong = [
        f"{f} {week.get(f)} != {sums[f]} (sum of days)" for f in ADDITIVE if week.get(f) != sums[f]
    ]
    note = f"no daily_metrics file for {', '.join(missing)}" if missing else ""
    meta: dict[str, Any] = {
        "days_summed": len(present),
        "missing_days": ", ".join(missing) or "none",
        **{f"week_{f}": week.get(f) for f in ADDITIVE},
        **{f"days_{f}": sums[f] for f in ADDITIVE},
    }
    if wrong:
        why = "; ".join(wrong)
        return Verdict(False, f"{why}" + (f" ({note})" if note else ""), meta)
    done = f"the {len(present)} day(s) add up to the week"
    return Verdict(True, done + (f"; {note}" if note else ""), meta)


# CommonMark with GFM tables, as the digests are read (as lib/grounding reads the model's text).
# Any destination counts as a link, even one markdown-it would refuse to render (javascript:):
# the check names every link target it finds, as it did with regexes.
_MARKDOWN = MarkdownIt("commonmark").enable("table")
_MARKDOWN.validateLink = lambda url: True


def summary_part(markdown: str) -> str:
    """The digest from after its front matter to `## Key numbers` (the insights' part)."""
    return without_front_matter(markdown).split(KEY_NUMBERS, 1)[0]


def _plain(text: str) -> str:
    """Text without markdown escapes, word joiners and repeated spaces, case-folded."""
    text = re.sub(r"\\(.)", r"\1", text.replace(WORD_JOINER, ""))
    return " ".join(text.split()).casefold()


def live_mentions(text: str) -> list[str]:
    """Each '@' not between word joiners, with a little context."""
    out = []
    for i, ch in enumerate(text):
        if ch != "@":
            continue
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if before != WORD_JOINER or after != WORD_JOINER:
            out.append(text[max(0, i - 10) : i + 11].replace("\n", " "))
    return out


def links_and_html(markdown: str) -> tuple[list[str], list[str]]:
    """The link targets in `markdown` (inline and reference links, autolinks; not images), and
    each raw HTML tag or block with the rest of its line, as a CommonMark reader parses it: an
    escaped `<` or one in a code span is text, not a tag."""
    links: list[str] = []
    html: list[str] = []
    for block in _MARKDOWN.parse(markdown):
        if block.type == "html_block":
            html.append(block.content.split("\n", 1)[0])
            continue
        if block.type != "inline":
            continue
        source, at = block.content, 0  # the inline source, and where the last tag was found
        for tok in block.children or []:
            if tok.type == "link_open":
                links.append(str(tok.attrGet("href") or ""))
            elif tok.type == "html_inline":
                # Inline tokens carry no column: the tag is found in the source, after the last.
                found = source.find(tok.content, at)
                if found < 0:
                    html.append(tok.content)
                    continue
                html.append(source[found:].split("\n", 1)[0])
                at = found + len(tok.content)
    return links, html


def grounding_problems(markdown: str, insights: Insights, refs: WindowRefs) -> list[str]:
    """What in the digest's summary is not grounded or not inert; empty when all is well."""
    summary = summary_part(markdown)
    problems: list[str] = []
    plain_summary = _plain(summary)
    for d in insights.dropped:
        if any(
            form and form in plain_summary for form in {_plain(d.text), _plain(md_text(d.text))}
        ):
            problems.append(f"dropped {d.kind} is in the digest: {d.text!r} ({d.reason})")
    links, html = links_and_html(summary)
    problems += [p for url in links if (p := refs.problem(url))]
    problems += [f"raw HTML in the summary: {tag[:40]!r}" for tag in html]
    problems += [f"live @mention in the summary: {c!r}" for c in live_mentions(summary)]
    return problems


def digest_freshness(output_dir: Path, now: dt.datetime, tz: ZoneInfo) -> Verdict:
    """Yesterday's daily digest exists by 02:00 in `tz`; before 02:00 there is nothing to say."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must carry a UTC offset, got {now.isoformat()}")
    local = now.astimezone(tz)
    yesterday = (local.date() - dt.timedelta(days=1)).isoformat()
    path = output_dir / "daily" / f"{yesterday}.md"
    meta = {"now": local.isoformat(timespec="seconds"), "expected": str(path)}
    if local.time() < FRESH_BY:
        return Verdict(True, f"before 02:00 ({tz.key}): {yesterday}'s digest is not due", meta)
    if path.exists():
        return Verdict(True, f"{path} exists", meta)
    return Verdict(False, f"{path} is missing at {meta['now']} (due by 02:00 {tz.key})", meta)


# --- the checks ----------------------------------------------------------------------------


def _per_partition(
    context: dg.AssetCheckExecutionContext,
    verdicts: Mapping[str, Verdict],
    severity: dg.AssetCheckSeverity,
) -> Iterator[Any]:
    spec = context.check_specs[0]
    for key, v in verdicts.items():
        if not v.passed:
            context.log.warning(
                f"{spec.asset_key.to_user_string()} {key}: {spec.name}: {v.description}"
            )
    yield from partition_checks(
        context.op_execution_context,
        spec,
        {
            k: (v.passed, {"problem" if not v.passed else "result": v.description, **v.metadata})
            for k, v in verdicts.items()
        },
        severity=severity,
        descriptions={k: v.description for k, v in verdicts.items()},
    )


def _read(store: DataStore, layer: Any, asset: str, key: str) -> tuple[Any, str | None]:
    """A file's payload, or None and one line saying why it cannot be read."""
    try:
        return store.read(layer, asset, key), None
    except StoreError as exc:
        return None, str(exc)


def build_checks(parts: OrgPartitions) -> list[dg.AssetChecksDefinition]:
    """The partitioned checks on the metrics and digests (see the module's docstring)."""
    with warnings.catch_warnings():
        # Partitioned asset checks are a preview feature in Dagster 1.13.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [
            _daily_metrics_check(parts.daily),
            _weekly_metrics_check(parts.weekly),
            *(_grounding_check(period, parts.of(period)) for period in PERIODS),
            yesterday_digest_by_2am,
        ]


def _daily_metrics_check(partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset="daily_metrics",
        name="commits_match_raw",
        partitions_def=partitions,
        blocking=True,
        description="The day's commits and merges in daily_metrics are the non-merge and merge "
        "rows of its raw_commits file. Blocking: insights and digest would repeat wrong numbers.",
    )
    def daily_metrics_match_raw(
        context: dg.AssetCheckExecutionContext, store: DataStore
    ) -> Iterator[Any]:
        verdicts: dict[str, Verdict] = {}
        for key in context.partition_keys:
            metrics, why = _read(store, "processed", "daily_metrics", key)
            raw, why_raw = _read(store, "raw", "raw_commits", key)
            if why or why_raw:
                verdicts[key] = Verdict(False, why or why_raw or "")
            else:
                verdicts[key] = daily_consistency(metrics, raw)
        yield from _per_partition(context, verdicts, dg.AssetCheckSeverity.ERROR)

    return daily_metrics_match_raw


def _weekly_metrics_check(partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset="weekly_metrics",
        name="additive_figures_match_days",
        partitions_def=partitions,
        description="The week's commits, merges, lines added and deleted, files changed and bot "
        "commits are the sums of its days' daily_metrics files. Days without one are named; "
        "the check passes with that note only when the present days add up.",
    )
    def weekly_metrics_match_days(
        context: dg.AssetCheckExecutionContext, store: DataStore, org: OrgResource
    ) -> Iterator[Any]:
        verdicts: dict[str, Verdict] = {}
        for key in context.partition_keys:
            week, why = _read(store, "processed", "weekly_metrics", key)
            if why:
                verdicts[key] = Verdict(False, why)
                continue
            days = {
                day: store.read_or("processed", "daily_metrics", day, None)
                for day in org.partition_days(org.window("weekly", key))
            }
            verdicts[key] = weekly_consistency(week, days)
        yield from _per_partition(context, verdicts, dg.AssetCheckSeverity.WARN)

    return weekly_metrics_match_days


def _grounding_check(
    period: Period, partitions: dg.PartitionsDefinition
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"{period}_digest",
        name="summary_grounded",
        partitions_def=partitions,
        description="Nothing grounding dropped is in the digest's summary, its links point "
        "to pull requests, issues and commits in the window's raw data, and it holds no raw "
        "HTML tag or live @mention. A warning: the digest is already written.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        store: DataStore,
        github: GitHubResource,
    ) -> Iterator[Any]:
        verdicts: dict[str, Verdict] = {}
        for key in context.partition_keys:
            verdicts[key] = _grounding_verdict(store, period, key, github.org)
        yield from _per_partition(context, verdicts, dg.AssetCheckSeverity.WARN)

    return _check


def _grounding_verdict(
    store: DataStore, period: Period, key: str, github_org: str | None
) -> Verdict:
    path = store.output_path(period, key, ".md")
    if not path.exists():
        return Verdict(False, f"{path} does not exist")
    raw, why = _read(store, "processed", f"{period}_insights", key)
    if why:
        return Verdict(False, why)
    try:
        insights = Insights.model_validate(raw)
    except ValidationError as exc:
        return Verdict(False, f"{period}_insights {key} is not valid: {exc.errors()[0]['msg']}")
    try:
        refs = read_window_facts(store, period, key).refs.model_copy(update={"org": github_org})
        note = ""
    except StoreError as exc:
        refs, note = WindowRefs(org=github_org), f" (links cannot be verified: {exc})"
    except ValidationError as exc:
        why = f"{period}_facts {key} is not valid: {exc.errors()[0]['msg']}"
        refs, note = WindowRefs(org=github_org), f" (links cannot be verified: {why})"
    problems = grounding_problems(path.read_text(encoding="utf-8"), insights, refs)
    meta = {"digest": dg.MetadataValue.path(str(path)), "dropped": len(insights.dropped)}
    if problems:
        meta["problems"] = dg.MetadataValue.json(problems)
        return Verdict(False, "; ".join(problems) + note, meta)
    return Verdict(True, "the summary is grounded and inert" + note, meta)


class FreshnessConfig(dg.Config):
    """`now`: the instant to judge at (ISO 8601 with offset); empty: the current time."""

    now: str = ""


@dg.asset_check(
    asset="daily_digest",
    name="yesterday_digest_by_2am",
    description="Yesterday's daily digest (output/daily/{yesterday}.md) exists by 02:00 in the "
    "org timezone; passes before 02:00. Run alone at 02:05 by digest_freshness_schedule.",
)
def yesterday_digest_by_2am(
    context: dg.AssetCheckExecutionContext,
    config: FreshnessConfig,
    store: DataStore,
    org: OrgResource,
) -> dg.AssetCheckResult:
    now = parse_instant(config.now) or dt.datetime.now(dt.UTC)
    v = digest_freshness(Path(store.output_dir), now, org.tz)
    if not v.passed:
        context.log.warning(f"daily_digest: {v.description}")
    return dg.AssetCheckResult(
        passed=v.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=v.description,
        metadata=v.metadata,
    )


digest_freshness_job = dg.define_asset_job(
    "digest_freshness_job",
    selection=dg.AssetSelection.checks(yesterday_digest_by_2am),
    description="Only the check that yesterday's daily digest exists.",
)


def build_freshness_schedule(timezone: str) -> dg.ScheduleDefinition:
    """02:05 in the org timezone: `yesterday_digest_by_2am` alone, as of the tick's time."""
    tz = ZoneInfo(timezone)

    @dg.schedule(
        name="digest_freshness_schedule",
        job=digest_freshness_job,
        cron_schedule="5 2 * * *",
        execution_timezone=timezone,
        default_status=automation_status(),
        description="Every day at 02:05 (org timezone): warns when yesterday's daily digest is "
        "missing.",
    )
    def digest_freshness_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        day = clock.day_key(when, tz)
        op = yesterday_digest_by_2am.node_def.name
        return dg.RunRequest(
            run_key=f"freshness-{day}",
            run_config={"ops": {op: {"config": {"now": when.isoformat()}}}},
        )

    return digest_freshness_schedule
