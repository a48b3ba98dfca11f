#!/usr/bin/env bash
# Build Sparky's image where registry base images cannot be pulled, but Debian's mirrors and
# PyPI are reachable:
#   1. mmdebstrap a Debian bookworm minbase rootfs (python3, python3-venv, git, ca-certificates);
#   2. buildah: FROM scratch + ADD rootfs.tar (deploy/docker/Containerfile.base) -> a local base;
#   3. buildah: deploy/docker/Dockerfile as is, with PYTHON_IMAGE=<that base>, never pulling;
#   4. run `dagster --version` and `dg check defs` inside the built image.
#
#   bash deploy/build-offline.sh [--install-deps] [--rebuild-base] IMAGE     (just image-build-offline)
#
# Needs: mmdebstrap and buildah (apt-get install -y mmdebstrap buildah), run as root.
# Env: SUITE (bookworm), MIRROR (mmdebstrap's default), BASE_IMAGE
# (localhost/sparky-base:$SUITE), SPARKY_CONFIG_FILE (deploy/k8s/base/sparky.toml, the config
# `dg check defs` loads), STORAGE_DRIVER (buildah's own: e.g. vfs inside a container),
# BUILD_CA_BUNDLE (default: $PIP_CERT if set): a PEM bundle pip trusts during the build, for a
# TLS-intercepting proxy; bind-mounted into the RUN steps only, never stored in the image.
# The base image is kept and reused on later runs; --rebuild-base makes it again (apt updates).
set -euo pipefail

usage="usage: $0 [--install-deps] [--rebuild-base] IMAGE"
died=0
die() { echo "build-offline: $*" >&2; died=1; exit 1; }
log() { echo "build-offline: $*" >&2; }

install_deps=0
rebuild_base=0
image=""
for arg in "$@"; do
    case "$arg" in
        --install-deps) install_deps=1 ;;
        --rebuild-base) rebuild_base=1 ;;
        -h|--help) echo "$usage"; exit 0 ;;
        -*) die "unknown option $arg; $usage" ;;
        *) [[ -z "$image" ]] || die "one IMAGE only; $usage"; image="$arg" ;;
    esac
done
[[ -n "$image" ]] || die "$usage"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dockerfile="$root/deploy/docker/Dockerfile"
base_containerfile="$root/deploy/docker/Containerfile.base"
suite="${SUITE:-bookworm}"
base_image="${BASE_IMAGE:-localhost/sparky-base:$suite}"
config_file="${SPARKY_CONFIG_FILE:-$root/deploy/k8s/base/sparky.toml}"
packages="python3,python3-venv,python-is-python3,git,ca-certificates"

[[ -f "$dockerfile" ]] || die "missing $dockerfile"
[[ -f "$base_containerfile" ]] || die "missing $base_containerfile"
[[ -f "$config_file" ]] || die "missing SPARKY_CONFIG_FILE $config_file"
ca_bundle="${BUILD_CA_BUNDLE:-${PIP_CERT:-}}"
[[ -z "$ca_bundle" || -f "$ca_bundle" ]] || die "BUILD_CA_BUNDLE/PIP_CERT $ca_bundle is not a file"

missing=()
for tool in mmdebstrap buildah; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    if ((install_deps)); then
        log "installing ${missing[*]} with apt-get"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
            die "apt-get install ${missing[*]} failed"
        fi
    else
        die "missing ${missing[*]}: apt-get install -y mmdebstrap buildah (or rerun with --install-deps)"
    fi
fi
[[ "$(id -u)" == 0 ]] || die "run as root (mmdebstrap and buildah --isolation chroot need it here)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sparky-offline.XXXXXX")"
ctr=""
step="setup"
cleanup() {
    local rc=$?
    if [[ -n "$ctr" ]]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
    rm -rf "$tmp"
    if ((rc != 0 && !died)); then echo "build-offline: failed at step '$step' (exit $rc)" >&2; fi
    exit "$rc"
}
trap cleanup EXIT

timed() {  # timed STEP CMD...: run CMD, log how long it took
    step="$1"; shift
    local t0=$SECONDS
    log "== $step"
    "$@"
    log "== $step: $((SECONDS - t0)) s"
}

# --- 1-2: the base image (kept between runs) ---------------------------------------------------
if ((rebuild_base)) || ! buildah inspect --type image "$base_image" >/dev/null 2>&1; then
    mirror=()
    [[ -z "${MIRROR:-}" ]] || mirror=("$MIRROR")
    timed "mmdebstrap $suite" \
        mmdebstrap --quiet --variant=minbase --include="$packages" "$suite" "$tmp/rootfs.tar" "${mirror[@]}"
    cp "$base_containerfile" "$tmp/Containerfile"
    timed "base image $base_image" \
        buildah bud --quiet --isolation chroot -f "$tmp/Containerfile" -t "$base_image" "$tmp"
    rm -f "$tmp/rootfs.tar"
else
    log "== base image $base_image exists (--rebuild-base to make it again)"
fi

# --- 3: Sparky's image from the usual Dockerfile, on that base -----------------------------------
# --pull=never: the base exists only in local storage; --layers: reruns reuse unchanged layers.
ca_args=()
if [[ -n "$ca_bundle" ]]; then
    log "pip trusts $ca_bundle during the build (mounted into RUN steps, not stored in the image)"
    # buildah 1.28's --env does not reach RUN steps: pip finds the bundle through a site-wide
    # config in a mounted directory (the image keeps only the empty /etc/xdg/pip mount point).
    mkdir -p "$tmp/pip"
    cp "$ca_bundle" "$tmp/pip/build-ca.pem"
    printf '[global]\ncert = /etc/xdg/pip/build-ca.pem\n' > "$tmp/pip/pip.conf"
    ca_args=(--volume "$tmp/pip:/etc/xdg/pip:ro")
fi
timed "image $image" \
    buildah bud --isolation chroot --pull=never --layers "${ca_args[@]}" \
        --build-arg "PYTHON_IMAGE=$base_image" \
        -f "$dockerfile" -t "$image" "$root"

# --- 4: smoke test inside the image ------------------------------------------------------------
step="smoke test"
ctr="$(buildah from --pull=never "$image")"
# In this throwaway container only (not the image): the config that `dg check defs` loads, and a
# dagster.yaml that turns telemetry off (the cluster mounts its own in both places).
printf 'telemetry:\n  enabled: false\n' > "$tmp/dagster.yaml"
buildah copy --quiet --chown 10001:10001 "$ctr" "$config_file" /etc/sparky/sparky.toml >/dev/null
buildah copy --quiet --chown 10001:10001 "$ctr" "$tmp/dagster.yaml" /opt/dagster/dagster_home/dagster.yaml >/dev/null
timed "dagster --version" buildah run --isolation chroot "$ctr" -- dagster --version
timed "dg check defs" buildah run --isolation chroot "$ctr" -- dg check defs

step="done"
log "built $image (base $base_image); for k3s: buildah push $image docker-archive:sparky.tar:$image"
