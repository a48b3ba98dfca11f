#!/usr/bin/env python3
"""Everything a DGX without registry access needs, in one folder: the images and the model.

    python deploy/bundle.py --list                  # the images both renderings reference
    python deploy/bundle.py --list --why            # ... and which pod template names each
    python deploy/bundle.py [--out DIR] [--tar] [--sparky-archive TAR] [--models-dir DIR]
                            [--arch amd64|arm64]    (just bundle)

The image list is computed from `kubectl kustomize` of every overlay, never kept by hand: every
container and init container of every pod template (Deployments, StatefulSets, DaemonSets such as
NVIDIA's device plugin, Jobs, CronJobs) plus the run Job's image, which the `K8sRunLauncher` takes
from the code server's `DAGSTER_CURRENT_IMAGE` (or `job_image` in `dagster.yaml`, or an image in
the code server's container context) and which no manifest names as a pod's image. The model
is the one the Ollama Deployment's init container pulls (`SPARKY_MODEL`), copied from an Ollama
models folder as files.

The bundle:

    DIR/images/<name>.tar    one docker-archive per image (k3s imports it: deploy/README.md)
    DIR/models/              Ollama's on-disk layout: manifests/<registry>/<ns>/<repo>/<tag>
                             and blobs/sha256-<hex> (copy it into the ollama-models volume)
    DIR/bundle.json          what is in it: images (as Kubernetes will ask for them), files,
                             the model's blobs and their digests

Registry images are saved with `skopeo copy docker://IMAGE docker-archive:FILE:IMAGE`, else
`podman pull` + `podman save`, else `docker pull` + `docker save`. Sparky's own image is never
pulled: it comes from the offline build (`just image-build-offline`, which leaves it in buildah's
storage as localhost/<image>) via `--sparky-archive` (a `buildah push ... docker-archive:` tar)
or `buildah push`, else `podman save` / `docker save` of a local image.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS_DIR = ROOT / "deploy" / "k8s" / "overlays"
DEFAULT_OUT = ROOT / "dist" / "sparky-bundle"
# Kinds whose pod template is at spec.template.spec (CronJob and Pod are handled apart).
TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# The env variables through which a code server hands its container context to the launcher.
CONTAINER_CONTEXT_ENV = {"DAGSTER_CONTAINER_CONTEXT", "DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT"}
# Ollama's defaults for a model reference without registry, namespace or tag, and its blob names:
# ollama/ollama server/modelpath.go (GetManifestPath: manifests/<registry>/<namespace>/<repo>/<tag>;
# GetBlobsPath: blobs/<digest> with ':' replaced by '-', only sha256 digests) and envconfig.Models
# ($OLLAMA_MODELS, else ~/.ollama/models; docs/faq.md "Where are models stored?").
OLLAMA_REGISTRY = "registry.ollama.ai"
OLLAMA_NAMESPACE = "library"
OLLAMA_DIGEST = re.compile(r"^sha256[:-]([0-9a-f]{64})$")


class BundleError(Exception):
    """The bundle cannot be made as asked (a missing blob, no tool to save an image, ...)."""


# --- what the renderings reference ---------------------------------------------------------------


def render(overlay: str, kubectl: str | None = None) -> list[dict[str, Any]]:
    """`kubectl kustomize` of one overlay: the objects `kubectl apply -k` would send."""
    kubectl = kubectl or shutil.which("kubectl")
    if kubectl is None:
        raise BundleError("kubectl is not installed: `kubectl kustomize` renders the overlays")
    out = subprocess.run(
        [kubectl, "kustomize", str(OVERLAYS_DIR / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def overlays() -> list[str]:
    """Every overlay folder (local, dgx, and any added later)."""
    return sorted(p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").is_file())


def pod_specs(objects: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`Kind/name`, pod spec) for every object that makes pods."""
    for o in objects:
        kind, name = o.get("kind"), o.get("metadata", {}).get("name")
        spec = o.get("spec") or {}
        if kind in TEMPLATE_KINDS:
            yield f"{kind}/{name}", spec["template"]["spec"]
        elif kind == "CronJob":
            yield f"{kind}/{name}", spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield f"{kind}/{name}", spec


def _dagster_yaml(objects: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The instance config, wherever it sits (a generated ConfigMap's name carries a hash)."""
    for o in objects:
        if o.get("kind") == "ConfigMap" and "dagster.yaml" in (o.get("data") or {}):
            return yaml.safe_load(o["data"]["dagster.yaml"]) or {}
    return {}


def run_job_images(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The images the `K8sRunLauncher` puts in run Jobs, which no manifest names as a pod's
    image: `job_image` or `run_k8s_config.container_config.image` when set, else the image the
    code location was loaded from, which the code server reports from `$DAGSTER_CURRENT_IMAGE`
    (dagster-k8s's `job_image` config: "If this field is empty, the image that was used to
    originally load the Dagster repository will be used")."""
    found: dict[str, set[str]] = {}
    config = (_dagster_yaml(objects).get("run_launcher") or {}).get("config") or {}
    container_config = (config.get("run_k8s_config") or {}).get("container_config") or {}
    for key, image in (
        ("job_image", config.get("job_image")),
        ("run_k8s_config", container_config.get("image")),
    ):
        if isinstance(image, str) and image:
            found.setdefault(image, set()).add(f"run Job ({key} in dagster.yaml)")
    for where, pod in pod_specs(objects):
        for container in pod.get("containers", []):
            for env in container.get("env", []):
                name, value = env.get("name"), env.get("value")
                if name == "DAGSTER_CURRENT_IMAGE" and value:
                    found.setdefault(value, set()).add(f"run Job ({name} of {where})")
                elif name in CONTAINER_CONTEXT_ENV and value:
                    image = _container_context_image(value)
                    if image:
                        found.setdefault(image, set()).add(f"run Job ({name} of {where})")
    return found


def _container_context_image(value: str) -> str | None:
    """The run image a code server's container context sets, if any (JSON or YAML:
    `k8s.run_k8s_config.container_config.image`, dagster-k8s's K8sContainerContext)."""
    try:
        context = yaml.safe_load(value)
    except yaml.YAMLError:
        return None
    run_config = ((context or {}).get("k8s") or {}).get("run_k8s_config") or {}
    image = (run_config.get("container_config") or {}).get("image")
    return image if isinstance(image, str) and image else None


def images_of(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Every image one rendering needs, with where each is named."""
    found: dict[str, set[str]] = {}
    for where, pod in pod_specs(objects):
        for key in CONTAINER_LISTS:
            for container in pod.get(key, []):
                found.setdefault(container["image"], set()).add(
                    f"{where} {key[:-1]} {container['name']}"
                )
    for image, sources in run_job_images(objects).items():
        found.setdefault(image, set()).update(sources)
    return found


def models_of(objects: list[dict[str, Any]]) -> set[str]:
    """The Ollama models the renderings pull (`SPARKY_MODEL` of the Ollama pods' containers)."""
    return {
        env["value"]
        for _, pod in pod_specs(objects)
        for key in CONTAINER_LISTS
        for container in pod.get(key, [])
        for env in container.get("env", [])
        if env.get("name") == "SPARKY_MODEL" and env.get("value")
    }


def normalize_image(image: str) -> str:
    """The name containerd stores for IMAGE, as the kubelet asks for it: Docker's reference rules
    (distribution/reference ParseNormalizedNamed): a first component without '.' or ':' that is
    not 'localhost' is a Docker Hub path, one-component names live under library/, no tag means
    :latest."""
    name, _, digest = image.partition("@")
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        domain, path = "docker.io", name
    else:
        domain, path = first, rest
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if digest:
        return f"{domain}/{path}@{digest}"
    if ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{domain}/{path}"


def archive_name(image: str) -> str:
    """A file name for IMAGE's archive: the normalized name with separators made safe."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", normalize_image(image)) + ".tar"


# --- the Ollama model ---------------------------------------------------------------------------


def default_models_dir() -> Path:
    """Where Ollama keeps models on this machine ($OLLAMA_MODELS, else ~/.ollama/models)."""
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")


def manifest_path(model: str) -> PurePosixPath:
    """The manifest's path under the models folder for a reference like `qwen2.5-coder:1.5b`."""
    name, _, tag = model.partition(":")
    parts = name.split("/")
    if len(parts) == 1:
        parts = [OLLAMA_REGISTRY, OLLAMA_NAMESPACE, *parts]
    elif len(parts) == 2:
        parts = [OLLAMA_REGISTRY, *parts]
    return PurePosixPath("manifests", *parts, tag or "latest")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_files(models_dir: Path, model: str) -> list[tuple[PurePosixPath, Path, str | None]]:
    """(path in the bundle's models/, source file, sha256 or None for the manifest) for MODEL:
    its manifest and every blob it names (config and layers), each checked against its digest.
    Refuses a missing manifest, a missing blob, a wrong size or a wrong digest: a partial copy
    would make the pod's init container try to download it, which an air-gapped node cannot."""
    manifest_rel = manifest_path(model)
    manifest = models_dir / manifest_rel
    if not manifest.is_file():
        raise BundleError(f"{model}: no manifest {manifest} (ollama pull {model} first)")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        layers = [data["config"], *data["layers"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{model}: {manifest} is not an Ollama manifest ({exc})") from exc
    files: list[tuple[PurePosixPath, Path, str | None]] = [(manifest_rel, manifest, None)]
    for layer in layers:
        match = OLLAMA_DIGEST.match(str(layer.get("digest", "")))
        if not match:
            raise BundleError(f"{model}: {manifest} names a non-sha256 digest {layer!r}")
        hexdigest = match.group(1)
        rel = PurePosixPath("blobs", f"sha256-{hexdigest}")
        blob = models_dir / rel
        if not blob.is_file():
            raise BundleError(f"{model}: missing blob {blob} (the pull did not finish)")
        size = layer.get("size")
        if size is not None and blob.stat().st_size != size:
            raise BundleError(f"{model}: {blob} has {blob.stat().st_size} bytes, manifest {size}")
        if _sha256(blob) != hexdigest:
            raise BundleError(f"{model}: {blob} does not match its digest")
        files.append((rel, blob, hexdigest))
    return files


# --- saving images -------------------------------------------------------------------------------


@dataclass
class ImageSave:
    """How one image gets into the bundle: commands to run, or an archive to copy."""

    image: str
    file: str
    own: bool
    commands: list[list[str]] = field(default_factory=list)
    copy_from: Path | None = None


def plan_save(
    image: str,
    dest: Path,
    *,
    own: bool,
    sparky_archives: dict[str, Path] | None = None,
    arch: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> ImageSave:
    """The commands that write IMAGE as a docker-archive at DEST, tagged with the name the kubelet
    asks containerd for (k3s imports docker-archive tars: deploy/README.md)."""
    tag = normalize_image(image)
    save = ImageSave(image=image, file=dest.name, own=own)
    if own:
        # The offline build leaves the image in buildah's storage as localhost/<image>; the
        # archive must carry the name the pods ask for, not localhost/... .
        if tag in (sparky_archives or {}):
            save.copy_from = (sparky_archives or {})[tag]
        elif which("buildah"):
            save.commands = [
                ["buildah", "push", f"localhost/{image}", f"docker-archive:{dest}:{tag}"]
            ]
        elif which("podman"):
            save.commands = [
                ["podman", "save", "--format", "docker-archive", "-o", str(dest), image]
            ]
        elif which("docker"):
            save.commands = [["docker", "save", "-o", str(dest), image]]
        else:
            raise BundleError(f"{image}: pass --sparky-archive (the offline build's tar)")
        return save
    if which("skopeo"):
        cmd = ["skopeo", "copy"]
        if arch:
            cmd += ["--override-arch", arch, "--override-os", "linux"]
        save.commands = [[*cmd, f"docker://{tag}", f"docker-archive:{dest}:{tag}"]]
    elif which("podman"):
        pull = ["podman", "pull", *(["--arch", arch] if arch else []), tag]
        save.commands = [
            pull,
            ["podman", "save", "--format", "docker-archive", "-o", str(dest), tag],
        ]
    elif which("docker"):
        pull = ["docker", "pull", *(["--platform", f"linux/{arch}"] if arch else []), tag]
        save.commands = [pull, ["docker", "save", "-o", str(dest), tag]]
    else:
        raise BundleError(f"{image}: no skopeo, podman or docker here to save it")
    return save


def archive_tags(archive: Path) -> set[str]:
    """The normalized RepoTags of a docker-archive (its manifest.json)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise BundleError(f"{archive}: no manifest.json (not a docker-archive)")
        entries = json.load(member)
    return {normalize_image(t) for e in entries for t in e.get("RepoTags") or []}


# --- the bundle ----------------------------------------------------------------------------------


def collect(names: Iterable[str]) -> tuple[dict[str, dict[str, set[str]]], set[str], set[str]]:
    """Per image: overlay -> where it is named; the own (code location) images; the models."""
    images: dict[str, dict[str, set[str]]] = {}
    own: set[str] = set()
    models: set[str] = set()
    for overlay in names:
        objects = render(overlay)
        for image, where in images_of(objects).items():
            images.setdefault(image, {}).setdefault(overlay, set()).update(where)
        own |= set(run_job_images(objects))
        models |= models_of(objects)
    return images, own, models


def write_bundle(
    out: Path,
    images: dict[str, dict[str, set[str]]],
    own: set[str],
    models: set[str],
    *,
    models_dir: Path,
    sparky_archives: list[Path],
    arch: str | None,
    make_tar: bool,
) -> Path:
    """Check the model first (cheap, and the usual failure), then save every image."""
    model_plan = {m: model_files(models_dir, m) for m in sorted(models)}
    # Each given archive serves the images its RepoTags name (the offline build's tar).
    archives = {tag: path for path in sparky_archives for tag in archive_tags(path)}
    (out / "images").mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"images": [], "models": []}
    for image in sorted(images):
        dest = out / "images" / archive_name(image)
        save = plan_save(image, dest, own=image in own, sparky_archives=archives, arch=arch)
        dest.unlink(missing_ok=True)
        if save.copy_from is not None:
            shutil.copyfile(save.copy_from, dest)
        for cmd in save.commands:
            print("+", " ".join(cmd), file=sys.stderr)
            subprocess.run(cmd, check=True)
        manifest["images"].append(
            {
                "image": image,
                "name": normalize_image(image),
                "file": f"images/{dest.name}",
                "overlays": sorted(images[image]),
                "sha256": _sha256(dest),
            }
        )
    for model, files in model_plan.items():
        for rel, src, _ in files:
            target = out / "models" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
        manifest["models"].append(
            {"model": model, "files": {str(rel): digest for rel, _, digest in files}}
        )
    (out / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if not make_tar:
        return out
    tar_path = out.with_suffix(".tar")
    with tarfile.open(tar_path, "w") as tar:  # images and GGUF blobs are compressed already
        tar.add(out, arcname=out.name)
    return tar_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the images and exit")
    parser.add_argument("--why", action="store_true", help="with --list: where each is named")
    parser.add_argument("--overlay", action="append", help="an overlay (default: all of them)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the bundle folder")
    parser.add_argument("--tar", action="store_true", help="also write OUT.tar")
    parser.add_argument("--models-dir", type=Path, default=None, help="Ollama's models folder")
    parser.add_argument(
        "--sparky-archive",
        type=Path,
        action="append",
        default=[],
        help="a docker-archive of sparky's image, tagged as the manifests name it (repeatable)",
    )
    parser.add_argument("--arch", default=None, help="the DGX's architecture (amd64, arm64)")
    args = parser.parse_args(argv)
    try:
        images, own, models = collect(args.overlay or overlays())
        if args.list:
            for image in sorted(images):
                if args.why:
                    for overlay, where in sorted(images[image].items()):
                        print(f"{image}\t{overlay}\t{'; '.join(sorted(where))}")
                else:
                    print(image)
            return 0
        written = write_bundle(
            args.out,
            images,
            own,
            models,
            models_dir=args.models_dir or default_models_dir(),
            sparky_archives=args.sparky_archive,
            arch=args.arch,
            make_tar=args.tar,
        )
    except (BundleError, subprocess.CalledProcessError) as exc:
        print(f"bundle: {exc}", file=sys.stderr)
        return 1
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
