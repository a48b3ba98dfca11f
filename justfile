# Sparky's recipes. The venv is made by the README's Quickstart lines (or `just setup`).

venv := justfile_directory() / ".venv"
bin := venv / "bin"
export VIRTUAL_ENV := venv
export PATH := bin + ":" + env("PATH")
# The embedded SQLite instance lives in .dagster/ unless you point DAGSTER_HOME elsewhere.
export DAGSTER_HOME := env("DAGSTER_HOME", justfile_directory() / ".dagster")
# Runs log at INFO (warnings and what each step did), not Dagster's DEBUG event stream, and run
# their steps in one process (a day's chain: about 5 s instead of 35 s of subprocess start-up).
quiet := '{"loggers": {"console": {"config": {"log_level": "INFO"}}}, "execution": {"config": {"in_process": {}}}}'

# List the recipes
default:
    @just --list

# Create or update the virtual environment
setup:
    python3 -m venv {{venv}}
    {{bin}}/pip install -q -e '.[dev]'

# Materialize the daily digests of the last N days (one run) and print where they are
demo days="7": _home
    range="$(sparky range --last {{days}})" && dg launch --job daily_digest_job --partition-range "$range" --config-json '{{quiet}}'
    @echo "Daily digests:"
    @sparky digests --last {{days}}

# The weekly digest of the week starting Monday DATE: its days' chain, then the week's assets
weekly monday: _home
    range="$(sparky window weekly {{quote(monday)}})" && dg launch --job daily_digest_job --partition-range "$range" --config-json '{{quiet}}'
    dg launch --job weekly_digest_job --partition {{quote(monday)}} --config-json '{{quiet}}'
    @echo "Weekly digest: weekly/{{monday}}.md in [sparky].output_dir"

# The monthly digest of the month starting DATE (the 1st): its days' chain, then the month's
monthly first: _home
    range="$(sparky window monthly {{quote(first)}})" && dg launch --job daily_digest_job --partition-range "$range" --config-json '{{quiet}}'
    dg launch --job monthly_digest_job --partition {{quote(first)}} --config-json '{{quiet}}'
    @echo "Monthly digest: monthly/{{first}}.md in [sparky].output_dir"

# Materialize the daily chain for one day (checked first), e.g. `just day 2025-06-03`
day date: _home
    @sparky check-partition {{quote(date)}}
    dg launch --job daily_digest_job --partition {{quote(date)}} --config-json '{{quiet}}'


# The Dagster UI on http://127.0.0.1:3000 (materialize, backfill, lineage, checks)
dev: _home
    dg dev -h 127.0.0.1 -p 3000

# Lint and run the whole test suite
test: lint
    pytest -q

# Lint with ruff
lint:
    ruff check .

# Sparky's git collection vs `git log --numstat` (10k commits) and a warm day run (100k commits)
bench *args:
    python benchmarks/local_git.py {{args}}

# A year of 1M commits and 100k pull requests: one month's metrics against the 10 s goal
bench-metrics *args:
    python benchmarks/metrics.py {{args}}

# Fact-sheet sizes and LLM calls of a busy month, cold and warm (fake Ollama)
bench-insights *args:
    python benchmarks/insights.py {{args}}

# Validate the definitions with Dagster's own tooling
check:
    dg check defs

_home:
    @mkdir -p "$DAGSTER_HOME"
    @test -f "$DAGSTER_HOME/dagster.yaml" || printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml"
