"""Markdown digests from facts and insights, through Jinja2 templates in `templates/`.

Everything that came from a commit or a config (names, subjects, repo names, errors) goes through
`sanitize` before it reaches the page: text from repositories is data, never markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sparky_assets import __version__
from sparky_assets.lib.digest_view import digest_view
from sparky_assets.lib.insights import FactSheet, Insights
from sparky_assets.lib.metrics import METRIC_DEFINITIONS
from sparky_assets.lib.sanitize import md_text, yaml_text
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


def writer_line(insights: Insights, *, reason: bool = True) -> str:
    """Which writer produced the text, with which model, and (`reason`) why when it was the
    fallback."""
    if insights.writer == "ollama":
        return f"written by the local LLM {md_text(insights.model or 'unknown model')} (Ollama)" + (
            f", {len(insights.dropped)} ungrounded item(s) dropped" if insights.dropped else ""
        )
    why = f": {md_text(insights.fallback_reason)}" if insights.fallback_reason and reason else ""
    return f"written by the deterministic writer (no LLM){why}"


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
) -> str:
    """A daily, weekly or monthly digest from the window's metrics, its insights and the
    coverage files of its collected days. `github_org` (when GitHub was collected) is the org
    whose pull requests, issues and releases the digest may link to. `start_date` is the
    config's `[sparky].start_date`: days before it are never collected, and the digest says so."""
    metrics = facts.metrics
    if not isinstance(metrics, WindowMetrics):  # a daily file from before the window metrics
        metrics = WindowMetrics.model_validate(metrics.model_dump())
    view = digest_view(facts, metrics, coverages, github_org=github_org, start_date=start_date)
    return _ENV.get_template(f"{facts.period}.md.j2").render(
        facts=facts,
        m=metrics,
        v=view,
        insights=insights,
        summary=summary_markdown(insights),
        writer_line=writer_line(insights),
        writer_short=writer_line(insights, reason=False),
        coverage=coverages[0] if len(coverages) == 1 else None,
        org=org,
        timezone=timezone,
        version=__version__,
        definitions=_definitions(),
    )


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
    facts: FactSheet, insights: Insights, coverages: Sequence[Coverage] | Coverage | None, *,
    org: str,
) -> dict[str, Any]:
    """The `.json` next to the markdown: the same facts, for tools. No email addresses."""
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
    return {
        "period": facts.period,
        "partition": facts.partition,
        "org": org,
        "generator": f"sparky {__version__}",
        "metrics": metrics,
        # Without what grounding dropped: the model's rejected text is not for publishing.
        "insights": insights.model_dump(mode="json", exclude={"dropped"})
        | {"dropped": len(insights.dropped)},
        "coverage": (covered[0] if covered else None) if facts.period == "daily" else covered,
    }
