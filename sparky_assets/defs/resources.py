"""Resources built from `sparky.toml`: the only place config becomes Dagster resources.

Asset, check and sensor bodies get configuration only through these resources; none reads
`sparky.toml` itself.
"""

from typing import Any

import dagster as dg

from sparky_resources import secrets
from sparky_resources.config import SparkyConfig
from sparky_resources.deliver_resource import delivery_from_config
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.ollama import OllamaResource
from sparky_resources.org import OrgResource
from sparky_resources.publisher import GitPublisherResource, publisher_from_config
from sparky_resources.store import DataStore


def build_resources(config: SparkyConfig) -> dict[str, Any]:
    # Each secret Sparky will use is checked when the definitions load (one line, never the
    # value), like a config error; runs read it again through the same module.
    # (SPARKY_PUBLISH_TOKEN: in publisher_from_config.)
    github_token = secrets.read_secret(secrets.GITHUB_TOKEN) if config.github.org else None
    return {
        "org": OrgResource(
            timezone=config.sparky.timezone,
            start_date=config.sparky.start_date.isoformat(),
            bots=list(config.identity.bots),
            bot_patterns=list(config.identity.bot_patterns),
            aliases=dict(config.identity.aliases),
            review_wait_days=config.digest.review_wait_days,
            answer_wait_days=config.digest.answer_wait_days,
            # A plain field here rather than on the publisher: the index and feed are written
            # without [publish] configured too, and their asset already takes `org`.
            site_url=config.publish.site_url,
            teams={
                name: {"repos": list(team.repos), "paths": list(team.paths)}
                for name, team in config.teams.teams.items()
            },
            teams_from_github=config.teams.from_github,
            dora_source=config.dora.source,
            dora_environment=config.dora.environment,
            dora_tag_pattern=config.dora.tag_pattern,
            dora_incident_labels=list(config.dora.incident_labels),
        ),
        "local_git": LocalGitResource(
            repos=[str(p) for p in config.local_repos],
            timeout_s=config.local.git_timeout_s,
            count_unpushed=config.local.count_unpushed,
            cache_dir=str(config.data_dir / "cache" / "git"),
        ),
        # The token only ever comes from the environment (a Dagster EnvVar, never a value,
        # so that no run or snapshot stores it); the client trims it as `secrets` did here.
        "github": GitHubResource(
            org=config.github.org,
            api_url=str(config.github.api_url).rstrip("/"),
            graphql_url=str(config.github.graphql_url) if config.github.graphql_url else None,
            token=dg.EnvVar(secrets.GITHUB_TOKEN) if github_token else None,
            include=list(config.github.include),
            exclude=list(config.github.exclude),
            cache_dir=str(config.data_dir / "cache" / "github"),
            max_wait_s=config.github.max_wait_s,
        ),
        # [llm] as validated, field for field (max_concurrency is the `ollama` pool's limit, set
        # on the instance). OLLAMA_HOST, when set, overrides base_url as Ollama's CLI reads it.
        "ollama": OllamaResource(**config.llm.model_dump(mode="json", exclude={"max_concurrency"})),
        # Not configured: an empty work tree, and published_digests says so.
        "publisher": publisher_from_config(config) or GitPublisherResource(work_tree=""),
        "store": DataStore(data_dir=str(config.data_dir), output_dir=str(config.output_dir)),
        # [[deliver]]: the targets name the variables with their secrets, read when sending.
        "delivery": delivery_from_config(config),
    }
