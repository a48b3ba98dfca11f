# Sparky's recipes. The venv is made by the README's Quickstart lines (or `just setup`).

venv := justfile_directory() / ".venv"
bin := venv / "bin"
export VIRTUAL_ENV := venv
export PATH := bin + ":" + env("PATH")
# The embedded SQLite instance lives in .dagster/ unless you point DAGSTER_HOME elsewhere.
export DAGSTER_HOME := env("DAGSTER_HOME", justfile_directory() / ".dagster")
# Runs start with `sparky launch`: in this process, logged at INFO, with steps in one process
# (a day's chain: about 5 s instead of 35 s of subprocess start-up), and recorded as runs of the
# code location `sparky`, so the UI (`just dev`) lists them and can re-execute them.

# List the recipes
default:
    @just --list

# Create or update the virtual environment (uv installs in seconds, pip bootstraps it)
setup:
    python3 -m venv {{venv}}
    {{bin}}/pip install -qq uv
    {{bin}}/uv pip install -q --compile-bytecode -p {{venv}} -e '.[dev]'

# Materialize the daily digests of the last N days (one run) and print where they are
demo days="7": _home
    range="$(sparky range --last {{days}})" && sparky launch --job daily_digest_job --partition-range "$range"
    @echo "Daily digests:"
    @sparky digests --last {{days}}

# The weekly digest of the week starting Monday DATE: its days' chain, then the week's assets
weekly monday: _home
    range="$(sparky window weekly {{quote(monday)}})" && sparky launch --job daily_digest_job --partition-range "$range"
    sparky launch --job weekly_digest_job --partition {{quote(monday)}}
    @echo "Weekly digest:"
    @sparky digests --week {{quote(monday)}}

# The monthly digest of the month starting DATE (the 1st): its days' chain, then the month's
monthly first: _home
    range="$(sparky window monthly {{quote(first)}})" && sparky launch --job daily_digest_job --partition-range "$range"
    sparky launch --job monthly_digest_job --partition {{quote(first)}}
    @echo "Monthly digest:"
    @sparky digests --month {{quote(first)}}

# Materialize the daily chain for one day (checked first), e.g. `just day 2025-06-03`
day date: _home
    @sparky check-partition {{quote(date)}}
    sparky launch --job daily_digest_job --partition {{quote(date)}}
    @echo "Daily digest:"
    @sparky digests --day {{quote(date)}}

# Limit the instance's pools: GitHub steps and LLM steps, N at a time across runs (`just pools 1 1`)
pools github="1" ollama="1": _home
    dagster instance concurrency set github {{quote(github)}}
    dagster instance concurrency set ollama {{quote(ollama)}}

# The Dagster UI on http://127.0.0.1:3000 (materialize, backfill, lineage, checks)
dev: _home
    dg dev -h 127.0.0.1 -p 3000

# Lint and run the whole test suite: a worker per core and one more, a test file per worker
test *args: lint
    pytest -q -n $(( {{num_cpus()}} + 1 )) --dist loadfile --no-loadscope-reorder {{args}}

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

# --- Deployment (README "Deploying"): k3d on a laptop, k3s on the DGX ------------------------

image := env("SPARKY_IMAGE", "sparky:dev")
kube_ns := "sparky"

# Build the image with docker (or podman: DOCKER=podman just docker-build)
docker-build:
    ${DOCKER:-docker} build -f deploy/docker/Dockerfile -t {{image}} .

# Build the image where registry base images cannot be pulled (mmdebstrap + buildah)
image-build-offline tag=image:
    bash deploy/build-offline.sh {{tag}}

# Every image the renderings name and the Ollama model, for a node with no registry (--list)
bundle *args:
    python deploy/bundle.py {{args}}

# A local k3d cluster (1 server, 1 agent) from deploy/k3d/cluster.yaml
k3d-create:
    k3d cluster create --config deploy/k3d/cluster.yaml

# Delete the local k3d cluster
k3d-destroy:
    k3d cluster delete --config deploy/k3d/cluster.yaml

# Build, import the image into k3d and apply the local overlay
deploy-local: docker-build
    k3d image import {{image}} -c sparky
    kubectl apply -k deploy/k8s/overlays/local
    kubectl -n {{kube_ns}} rollout status deploy/dagster-webserver --timeout=300s

# Install k3s on the DGX over SSH with k3sup (HOST and USER: the DGX and its sudo user)
k3s-install-dgx host user:
    k3sup install --host {{host}} --user {{user}} --k3s-extra-args '--disable traefik' --local-path "$HOME/.kube/sparky-dgx" --context sparky-dgx

# Apply the DGX overlay (images imported from `just bundle`; deploy/README.md) and wait for every rollout
deploy-production:
    kubectl apply -k deploy/k8s/overlays/dgx
    kubectl -n kube-system rollout status daemonset/nvidia-device-plugin-daemonset --timeout=300s
    kubectl -n {{kube_ns}} rollout status statefulset/postgres --timeout=600s
    for d in dagster-webserver dagster-daemon sparky-user-code ollama; do kubectl -n {{kube_ns}} rollout status deploy/$d --timeout=600s; done

# Pods, jobs and services in the sparky namespace
status:
    kubectl -n {{kube_ns}} get pods,jobs,svc,pvc -o wide

# Follow the logs of the webserver, daemon and user code
logs-follow:
    kubectl -n {{kube_ns}} logs -f -l app.kubernetes.io/part-of=sparky --all-containers --max-log-requests 10

# The Dagster UI of the cluster on http://127.0.0.1:3000
port-forward:
    kubectl -n {{kube_ns}} port-forward svc/dagster-webserver 3000:3000
