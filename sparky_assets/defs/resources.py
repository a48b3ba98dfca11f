"""Resources built from `sparky.toml`: the only place config becomes Dagster resources."""

import os

import dagster as dg

from sparky_resources.config import get_config
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.store import DataStore


@dg.definitions
def resources() -> dg.Definitions:
    config = get_config()
    return dg.Definitions(
        resources={
            "local_git": LocalGitResource(
                repos=[str(p) for p in config.local_repos],
                timeout_s=config.local.git_timeout_s,
                count_unpushed=config.local.count_unpushed,
                cache_dir=str(config.data_dir / "cache" / "git"),
            ),
            # The token only ever comes from the environment (a Dagster EnvVar, never a value).
            "github": GitHubResource(
                org=config.github.org,
                api_url=str(config.github.api_url).rstrip("/"),
                graphql_url=str(config.github.graphql_url) if config.github.graphql_url else None,
                token=dg.EnvVar("GITHUB_TOKEN") if os.environ.get("GITHUB_TOKEN") else None,
                include=list(config.github.include),
                exclude=list(config.github.exclude),
                cache_dir=str(config.data_dir / "cache" / "github"),
                max_wait_s=config.github.max_wait_s,
            ),
            "store": DataStore(data_dir=str(config.data_dir), output_dir=str(config.output_dir)),
        }
    )
