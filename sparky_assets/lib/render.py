"""Markdown digests from facts and insights, through Jinja2 templates in `templates/`, the JSON
sidecar written next to each, and the YAML front matter they start with, read back.

Everything that came from a commit or a config (names, subjects, repo names, errors) goes through
`sanitize` before it reaches the page: text from repositories is data, never markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sparky_assets import __version__
from sparky_assets.lib.delivery_view import REPORT, dora_view, team_lines
from sparky_assets.lib.digest_view import digest_view
from sparky_assets.lib.insights import FactSheet, Insights
from sparky_assets.lib.metrics import METRIC_DEFINITIONS
from sparky_assets.lib.sanitize import md_text, plain_text, yaml_text
from sparky_assets.lib.window import WindowMetrics
from sparky_resources.models import Coverage

_TEMPLATES = Path(__file__).parent / "templates"


def md(value: Any) -> str:
    """The templates' `|md` filter: `sanitize.md_text`, the one markdown sanitizer."""
    return md_text(value)


def md_link(text: Any, url: str | None) -> str:
    """The templates' `|link(url)` filter: `[text](url)` for a GitHub item URL Sparky built or
    collected (checked by `digest_view.safe_url`), else the text alone."""
    return f"[{md_text(text)}]({url})" if url else md_text(text)


def yaml_str(value: Any) -> str:
    """The templates' `|yaml` filter: a double-quoted YAML string of sanitized plain text."""
    return yaml_text(value)


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,  # markdown, escaped field by field with |md
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["yaml"] = yaml_str
    env.filters["num"] = lambda n: f"{n:,}"
    env.filters["link"] = md_link
    return env


_ENV = _env()


def summary_markdown(insights: Insights) -> dict[str, Any]:
    """The insights' text as inline markdown: plain text is escaped here, the LLM's text is
    already inert markdown (`to_markdown_safe`) and escaping it again would break its links."""
    if insights.text_format == "markdown":
        convert: Any = str
    else:
        convert = md_text
    return {
        "headline": convert(insights.headline),
        "highlights": [convert(h) for h in insights.highlights],
        "themes": [convert(t) for t in insights.themes],
        "risks": [convert(r) for r in insights.risks],
    }


def writer_line(insights: Insights) -> str:
    """Which local model wrote the summary (and how many ungrounded items it dropped); "" for
    the built-in writer, which the footer names."""
    if insights.writer != "ollama":
        return ""
    dropped = f", {len(insights.dropped)} ungrounded item(s) dropped" if insights.dropped else ""
    return (
        f"written by the local LLM {md_text(insights.model or 'unknown model')} (Ollama){dropped}"
    )


# Why the built-in writer wrote, in words for readers: the operator's detail (URLs, errno,
# commands to run) stays in the insights file, the run's metadata and its log.
_PLAIN_REASONS = (
    ("switched off", "the LLM is switched off"),
    ("not reachable", "the model was not reachable"),
    ("ollama pull", "the model is not installed"),
    ("no answer within", "the model did not answer in time"),
    ("grounded", "nothing the model wrote could be checked against the facts"),
)


def text_note(insights: Insights) -> str:
    """The footer's one plain line about who wrote the summary."""
    if insights.writer == "ollama":
        return f"summary {writer_line(insights)}"
    reason = (insights.fallback_reason or "").lower()
    plain = next((words for key, words in _PLAIN_REASONS if key in reason), None)
    if plain is None and reason:
        plain = "the model's answer could not be used"
    return "summary by the built-in writer" + (f"; {plain}" if plain else "")


def render_daily(
    facts: FactSheet,
    insights: Insights,
    coverage: Coverage | None,
    *,
    org: str,
    timezone: str,
) -> str:
    """The daily digest (a wrapper of `render_digest` for one day's coverage)."""
    return render_digest(
        facts, insights, [coverage] if coverage else [], org=org, timezone=timezone
    )


def render_digest(
    facts: FactSheet,
    insights: Insights,
    coverages: Sequence[Coverage],
    *,
    org: str,
    timezone: str,
    github_org: str | None = None,
    start_date: dt.date | None = None,
    trend: Sequence[tuple[str, WindowMetrics | None]] = (),
) -> str:
    """A daily, weekly or monthly digest from the window's metrics, its insights and the
    coverage files of its collected days. `github_org` (when GitHub was collected) is the org
    whose pull requests, issues and releases the digest may link to. `start_date` is the
    config's `[sparky].start_date`: days before it are never collected, and the digest says so."""
    metrics = _window_metrics(facts)
    view = digest_view(
        facts,
        metrics,
        coverages,
        github_org=github_org,
        start_date=start_date,
        timezone=timezone,
        trend=trend,
    )
    return _ENV.get_template(f"{facts.period}.md.j2").render(
        facts=facts,
        m=metrics,
        v=view,
        dora=dora_view(metrics.dora, facts.period),
        teams=team_lines(metrics),
        report=REPORT,
        insights=insights,
        summary=summary_markdown(insights),
        # The model's words only as the items it cites (grounded highlights); the built-in
        # writer's sentences are the first screen's figures again, so they are not repeated.
        summary_lines=summary_markdown(insights)["highlights"]
        if insights.writer == "ollama"
        else [],
        writer_line=writer_line(insights),
        text_note=text_note(insights),
        coverage=coverages[0] if len(coverages) == 1 else None,
        org=org,
        timezone=timezone,
        version=__version__,
        definitions=_definitions(),
    )


def _window_metrics(facts: FactSheet) -> WindowMetrics:
    metrics = facts.metrics
    if not isinstance(metrics, WindowMetrics):  # a daily file from before the window metrics
        metrics = WindowMetrics.model_validate(metrics.model_dump())
    return metrics


def _definitions() -> list[str]:
    """The bullet list of metric definitions from the metrics module's docstring."""
    items: list[str] = []
    for line in METRIC_DEFINITIONS.splitlines():
        if line.startswith("- "):
            items.append(line.strip())
        elif items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
    return items


def digest_sidecar(
    facts: FactSheet,
    insights: Insights,
    coverages: Sequence[Coverage] | Coverage | None,
    *,
    org: str,
    timezone: str | None = None,
    github_org: str | None = None,
) -> dict[str, Any]:
    """The `.json` next to the markdown: the same facts, for tools and for the index (which
    reads its `insights.headline`, `partial` and `coverage`, never the markdown). No email
    addresses."""
    if isinstance(coverages, Coverage):
        coverages = [coverages]
    metrics = facts.metrics.model_dump(mode="json")
    for person in metrics["top_contributors"]:
        person.pop("identity", None)

    def cov(c: Coverage) -> dict[str, Any]:
        # When it was collected matters only while the day is partial; leaving it out
        # otherwise keeps a re-materialized digest byte-for-byte the same.
        return c.model_dump(mode="json", exclude=None if c.is_partial else {"collected_at"})

    covered = [cov(c) for c in coverages or []]
    # What the front matter's `partial: true` says (the same view decides both), so that the
    # index reads it here instead of parsing the markdown back.
    view = digest_view(
        facts, _window_metrics(facts), coverages or [], timezone=timezone, github_org=github_org
    )
    return {
        "period": facts.period,
        "partition": facts.partition,
        "org": org,
        "generator": f"sparky {__version__}",
        "title": view.title,
        "partial": view.partial is not None,
        "quiet": view.quiet,
        # The first screen as plain sentences: the feed's summary, a chat message's body.
        "first_screen": view.first.bullets,
        # The same as markdown, title first (links and emphasis kept): what deliveries post.
        "first_screen_markdown": view.first.markdown,
        "metrics": metrics,
        # Without what grounding dropped: the model's rejected text is not for publishing.
        "insights": insights.model_dump(mode="json", exclude={"dropped"})
        | {"dropped": len(insights.dropped)},
        "coverage": (covered[0] if covered else None) if facts.period == "daily" else covered,
    }


# --- front matter, read back ------------------------------------------------------------------


class FrontMatterError(ValueError):
    """A digest's front matter that cannot be read; the message says why, in one line."""


def _front_matter_block(markdown: str) -> tuple[str, str]:
    """The YAML text between the first two `---` lines and the markdown after them."""
    lines = markdown.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise FrontMatterError("no front matter (the file does not start with '---')")
    for i, line in enumerate(lines[1:], start=1):
        if line.rstrip("\r\n") == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    raise FrontMatterError("front matter is not closed by '---'")


def split_front_matter(markdown: str) -> tuple[dict[str, Any], str]:
    """A digest's YAML front matter (a mapping) and the markdown after it.

    The block `digest.md.j2` writes: a first line `---`, YAML, a line `---` (the front matter
    of Jekyll and GitHub Pages). Raises FrontMatterError when there is none, or it is not YAML
    or not a mapping.
    """
    block, body = _front_matter_block(markdown)
    try:
        loaded = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"front matter is not valid YAML: {plain_text(exc)}") from None
    if not isinstance(loaded, dict):
        raise FrontMatterError("front matter is not a mapping")
    return loaded, body


def without_front_matter(markdown: str) -> str:
    """The digest from its title on: what the Dagster UI previews (it shows front matter as a
    bold paragraph) and what checks read. Markdown without front matter is returned whole."""
    try:
        _, body = _front_matter_block(markdown)
    except FrontMatterError:
        return markdown
    return body.lstrip("\r\n")
