"""Sparky's single entry point: every definition, built for one `sparky.toml`.

`build_definitions(config)` is the whole graph for any config: the partitions (start date and
timezone) are the only configuration Dagster needs at load time, and everything a run needs
arrives through the resources `defs/resources.py` builds. Tests build it for another timezone
in process; `defs` below builds it for the config Dagster's code location loads.
"""

import warnings

import dagster as dg

# The unpartitioned assets are defined when their modules are imported: the same Beta warning
# as in `build_definitions` below.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    from sparky_assets.defs.automation import (
        build_schedules,
        daily_digest_job,
        monthly_digest_job,
        notice_new_repositories,
        record_run_failures,
        weekly_digest_job,
    )
    from sparky_assets.defs.checks import (
        build_checks,
        build_freshness_schedule,
        digest_freshness_job,
    )
    from sparky_assets.defs.collect import build_collect_assets
    from sparky_assets.defs.deliver import build_delivery_assets, build_delivery_automation
    from sparky_assets.defs.digests import build_digest_assets, digest_index
    from sparky_assets.defs.github import build_github_activity
    from sparky_assets.defs.identity import contributors
    from sparky_assets.defs.insights import build_insights_assets
    from sparky_assets.defs.metrics import build_metrics_assets
    from sparky_assets.defs.publish import publish_job, publish_new_digests, published_digests
    from sparky_assets.defs.resources import build_resources
    from sparky_assets.defs.teams import build_team_assets, build_team_automation
from sparky_assets.partitions import OrgPartitions
from sparky_resources.config import SparkyConfig, get_config


def build_definitions(config: SparkyConfig) -> dg.Definitions:
    """Every asset, check, job, schedule, sensor and resource of Sparky for `config`."""
    parts = OrgPartitions.from_config(config)
    team_jobs, team_schedules = build_team_automation(parts)
    deliver_jobs, deliver_sensors = build_delivery_automation(parts)
    # Beta in Dagster 1.13 and warned about once per asset and per load (~90 lines a run):
    # `backfill_policy` (every asset runs a range in one run) and `with_source_code_references`
    # (every asset links to the file and line that defines it, "Code references" in the UI),
    # for which no stable API exists. Only that class, only here: any other warning still shows.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = [
            *build_collect_assets(parts.daily),
            build_github_activity(parts.daily),
            contributors,
            *build_metrics_assets(parts),
            *build_insights_assets(parts),
            *build_digest_assets(parts),
            *build_team_assets(parts),
            digest_index,
            published_digests,
            *build_delivery_assets(parts),
        ]
        referenced = dg.with_source_code_references(assets)
    return dg.Definitions(
        assets=referenced,
        asset_checks=build_checks(parts),
        jobs=[
            daily_digest_job,
            weekly_digest_job,
            monthly_digest_job,
            digest_freshness_job,
            publish_job,
            *team_jobs,
            *deliver_jobs,
        ],
        schedules=[
            *build_schedules(parts.timezone),
            build_freshness_schedule(parts.timezone),
            *team_schedules,
        ],
        sensors=[
            record_run_failures,
            notice_new_repositories,
            publish_new_digests,
            *deliver_sensors,
        ],
        resources=build_resources(config),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(get_config())
