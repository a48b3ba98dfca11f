"""Resources built from `sparky.toml`: the only place config becomes Dagster resources."""

import dagster as dg

from sparky_resources import secrets
from sparky_resources.config import get_config
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.ollama import OllamaResource
from sparky_resources.publisher import GitPublisherResource, publisher_from_config
from sparky_resources.store import DataStore


@dg.definitions
def resources() -> dg.Definitions:
    config = get_config()
    # Each secret Sparky will use is checked when the definitions load (one line, never the
    # value), like a config error; runs read it again through the same module.
    github_token = secrets.read_secret(secrets.GITHUB_TOKEN) if config.github.org else None
    if config.publish_remote.lower().startswith("https://"):
        secrets.read_secret(secrets.PUBLISH_TOKEN)
    return dg.Definitions(
        resources={
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
            # OLLAMA_HOST, when set, overrides base_url as Ollama's own CLI reads it.
            "ollama": OllamaResource(
                base_url=str(config.llm.base_url),
                model=config.llm.model,
                timeout_s=config.llm.timeout_s,
                connect_timeout_s=config.llm.connect_timeout_s,
                num_ctx=config.llm.num_ctx,
                num_predict=config.llm.num_predict,
                seed=config.llm.seed,
                keep_alive=config.llm.keep_alive,
                pull_missing=config.llm.pull_missing,
                max_retries=config.llm.max_retries,
            ),
            # Not configured: an empty work tree, and published_digests says so.
            "publisher": publisher_from_config(config) or GitPublisherResource(work_tree=""),
            "store": DataStore(data_dir=str(config.data_dir), output_dir=str(config.output_dir)),
        }
    )
