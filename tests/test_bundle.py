"""The air-gap bundle (deploy/bundle.py, `just bundle`), checked offline.

- `--list` names every image of both renderings: every `image:` anywhere in the rendered objects
  (init containers included) and the image of the run Job that dagster-k8s's own
  `K8sRunLauncher.launch_run` builds from the rendered `dagster.yaml` (tests/test_deploy.py's
  helpers), and nothing else.
- Pod templates the overlays do not have today (a DaemonSet with an init container, as NVIDIA's
  device plugin; a CronJob; `job_image` in `dagster.yaml`; a run image in a code server's
  container context) are found too.
- The model part copies a hand-made Ollama models folder (manifest + blobs, digests computed
  here with hashlib) and refuses one with a missing or corrupted blob.
- A whole bundle with a stand-in `skopeo` on PATH: registry images go through
  `skopeo copy docker://...`, sparky's image comes from the offline build's archive.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_deploy import OVERLAYS, ROOT, _launch_run_job, _one, _render

BUNDLE_PY = ROOT / "deploy" / "bundle.py"


def _load_bundle() -> Any:
    spec = importlib.util.spec_from_file_location("sparky_deploy_bundle", BUNDLE_PY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bundle = _load_bundle()


def _all_image_fields(node: Any) -> set[str]:
    """Every value of a key named `image` anywhere in NODE: independent of which kinds and
    container lists the bundle code walks."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                found.add(value)
            else:
                found |= _all_image_fields(value)
    elif isinstance(node, list):
        for item in node:
            found |= _all_image_fields(item)
    return found


def _cli_list(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, str(BUNDLE_PY), "--list", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return out.splitlines()


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay: _render(overlay) for overlay in OVERLAYS}


def _expected(objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> set[str]:
    job = _launch_run_job(objects, monkeypatch)
    run_images = {c["image"] for c in job["spec"]["template"]["spec"]["containers"]}
    assert run_images, "the launcher's Job has a container image"
    return _all_image_fields(objects) | run_images


def test_list_covers_every_image_of_each_rendering_and_the_run_job(
    rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    union: set[str] = set()
    for overlay, objects in rendered.items():
        expected = _expected(objects, monkeypatch)
        listed = _cli_list("--overlay", overlay)
        assert len(listed) == len(set(listed)), "each image once"
        assert set(listed) == expected, overlay
        # The init container that pulls the model is a pod's image too.
        ollama = _one(objects, "Deployment", "ollama")["spec"]["template"]["spec"]
        assert {c["image"] for c in ollama.get("initContainers", [])} <= set(listed)
        union |= expected
    assert set(_cli_list()) == union  # no --overlay: both renderings


def test_list_why_names_the_run_job(rendered: dict[str, list[dict[str, Any]]]) -> None:
    lines = [line.split("\t") for line in _cli_list("--why")]
    for overlay, objects in rendered.items():
        user_code = _one(objects, "Deployment", "sparky-user-code")["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in user_code["containers"][0]["env"]}
        reasons = [
            why for image, o, why in lines if o == overlay and image == env["DAGSTER_CURRENT_IMAGE"]
        ]
        assert len(reasons) == 1 and "run Job" in reasons[0], (overlay, reasons)


def test_images_of_walks_daemonsets_cronjobs_init_containers_and_run_images() -> None:
    dagster_yaml = yaml.safe_dump(
        {"run_launcher": {"config": {"job_image": "registry.example/sparky:run"}}}
    )
    context = {"k8s": {"run_k8s_config": {"container_config": {"image": "runs:2"}}}}
    code_server = {
        "name": "c",
        "image": "code:1",
        "env": [{"name": "DAGSTER_CONTAINER_CONTEXT", "value": json.dumps(context)}],
    }
    objects = [
        {
            "kind": "DaemonSet",
            "metadata": {"name": "nvidia-device-plugin-daemonset"},
            "spec": {
                "template": {
                    "spec": {
                        "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                        "containers": [
                            {
                                "name": "plugin",
                                "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
                            }
                        ],
                    }
                }
            },
        },
        {
            "kind": "CronJob",
            "metadata": {"name": "backup"},
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": "b", "image": "postgres:16.4"}]}
                        }
                    }
                }
            },
        },
        {  # a code server whose container context names the runs' image
            "kind": "Deployment",
            "metadata": {"name": "code"},
            "spec": {"template": {"spec": {"containers": [code_server]}}},
        },
        {
            "kind": "ConfigMap",
            "metadata": {"name": "inst-abc123"},
            "data": {"dagster.yaml": dagster_yaml},
        },
    ]
    assert set(bundle.images_of(objects)) == {
        "busybox:1.36",
        "nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
        "postgres:16.4",
        "registry.example/sparky:run",
        "code:1",
        "runs:2",
    }
    assert set(bundle.run_job_images(objects)) == {"registry.example/sparky:run", "runs:2"}


@pytest.mark.parametrize(
    ("image", "name"),
    [  # Docker's reference rules, worked by hand
        ("postgres:16.4-alpine", "docker.io/library/postgres:16.4-alpine"),
        ("ollama/ollama:0.12.10", "docker.io/ollama/ollama:0.12.10"),
        ("sparky", "docker.io/library/sparky:latest"),
        ("nvcr.io/nvidia/k8s-device-plugin:v0.17.1", "nvcr.io/nvidia/k8s-device-plugin:v0.17.1"),
        ("localhost:5000/sparky:1", "localhost:5000/sparky:1"),
        ("localhost/sparky:0.1.0", "localhost/sparky:0.1.0"),
        ("alpine@sha256:" + "a" * 64, "docker.io/library/alpine@sha256:" + "a" * 64),
    ],
)
def test_normalize_image(image: str, name: str) -> None:
    assert bundle.normalize_image(image) == name


def test_registry_images_go_through_skopeo_and_sparky_never_does(tmp_path: Path) -> None:
    dest = tmp_path / "p.tar"
    tools = {"skopeo": "/usr/bin/skopeo", "buildah": "/usr/bin/buildah"}
    save = bundle.plan_save("postgres:16.4-alpine", dest, own=False, which=tools.get)
    name = "docker.io/library/postgres:16.4-alpine"
    assert save.commands == [
        ["skopeo", "copy", f"docker://{name}", f"docker-archive:{dest}:{name}"]
    ]
    save = bundle.plan_save("ollama/ollama:0.12.10", dest, own=False, arch="arm64", which=tools.get)
    assert save.commands[0][2:6] == ["--override-arch", "arm64", "--override-os", "linux"]
    # The offline build leaves localhost/sparky:0.1.0 in buildah's storage; the archive carries
    # the name the pods ask for.
    save = bundle.plan_save("sparky:0.1.0", dest, own=True, which=tools.get)
    assert save.commands == [
        [
            "buildah",
            "push",
            "localhost/sparky:0.1.0",
            f"docker-archive:{dest}:docker.io/library/sparky:0.1.0",
        ]
    ]
    with pytest.raises(bundle.BundleError):
        bundle.plan_save("postgres:16.4-alpine", dest, own=False, which=lambda _: None)


# --- the Ollama model ---------------------------------------------------------------------------


def _fake_models_dir(root: Path, model: str) -> dict[str, bytes]:
    """An Ollama models folder holding MODEL as `ollama pull` leaves it: the manifest at
    manifests/registry.ollama.ai/library/<name>/<tag>, blobs at blobs/sha256-<hex>."""
    contents = {
        "application/vnd.ollama.image.model": b"GGUF" + bytes(range(256)) * 8,
        "application/vnd.ollama.image.template": b"{{ .Prompt }}",
        "application/vnd.ollama.image.license": b"Apache-2.0",
    }
    config = json.dumps({"model_format": "gguf"}).encode()
    blobs: dict[str, bytes] = {}

    def layer(media_type: str, data: bytes) -> dict[str, Any]:
        hexdigest = hashlib.sha256(data).hexdigest()
        blobs[hexdigest] = data
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        (root / "blobs" / f"sha256-{hexdigest}").write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{hexdigest}", "size": len(data)}

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": layer("application/vnd.docker.container.image.v1+json", config),
        "layers": [layer(t, d) for t, d in contents.items()],
    }
    name, tag = model.split(":")
    path = root / "manifests" / "registry.ollama.ai" / "library" / name / tag
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    # Another model's blob in the same folder: not part of the bundle.
    (root / "blobs" / f"sha256-{'0' * 64}").write_bytes(b"other model")
    return blobs


@pytest.fixture(scope="module")
def model(rendered: dict[str, list[dict[str, Any]]]) -> str:
    ollama = _one(rendered["dgx"], "Deployment", "ollama")["spec"]["template"]["spec"]
    (init,) = ollama["initContainers"]
    return next(e["value"] for e in init["env"] if e["name"] == "SPARKY_MODEL")


def test_model_files_finds_the_manifest_and_its_blobs(tmp_path: Path, model: str) -> None:
    blobs = _fake_models_dir(tmp_path / "models", model)
    files = bundle.model_files(tmp_path / "models", model)
    name, tag = model.split(":")
    rels = {str(rel) for rel, _, _ in files}
    assert rels == {f"manifests/registry.ollama.ai/library/{name}/{tag}"} | {
        f"blobs/sha256-{h}" for h in blobs
    }
    for rel, src, digest in files:
        if digest is not None:
            assert hashlib.sha256(src.read_bytes()).hexdigest() == digest == rel.name[7:]


def test_model_files_refuses_a_missing_blob(tmp_path: Path, model: str) -> None:
    blobs = _fake_models_dir(tmp_path / "models", model)
    gone = next(iter(blobs))
    (tmp_path / "models" / "blobs" / f"sha256-{gone}").unlink()
    with pytest.raises(bundle.BundleError, match="missing blob"):
        bundle.model_files(tmp_path / "models", model)


def test_model_files_refuses_a_corrupted_blob_and_a_missing_manifest(
    tmp_path: Path, model: str
) -> None:
    blobs = _fake_models_dir(tmp_path / "models", model)
    victim = tmp_path / "models" / "blobs" / f"sha256-{max(blobs, key=lambda h: len(blobs[h]))}"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF  # same size, different bytes
    victim.write_bytes(bytes(data))
    with pytest.raises(bundle.BundleError, match="digest"):
        bundle.model_files(tmp_path / "models", model)
    with pytest.raises(bundle.BundleError, match="no manifest"):
        bundle.model_files(tmp_path / "models", "llama3:8b")


# --- a whole bundle ------------------------------------------------------------------------------

FAKE_SKOPEO = """#!{python}
# Stand-in for `skopeo copy docker://REF docker-archive:PATH:TAG`: a minimal docker-archive.
import io, json, sys, tarfile
args = sys.argv[1:]
with open(sys.argv[0] + ".log", "a") as log:
    log.write(" ".join(args) + "\\n")
src, dst = args[-2], args[-1]
assert args[0] == "copy" and src.startswith("docker://") and dst.startswith("docker-archive:")
path, tag = dst[len("docker-archive:"):].split(":", 1)
data = json.dumps([{"Config": "c.json", "RepoTags": [tag], "Layers": []}]).encode()
with tarfile.open(path, "w") as tar:
    info = tarfile.TarInfo("manifest.json"); info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
"""


def _docker_archive(path: Path, tag: str) -> None:
    data = json.dumps([{"Config": "c.json", "RepoTags": [tag], "Layers": []}]).encode()
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def test_bundle_for_the_dgx(
    tmp_path: Path,
    rendered: dict[str, list[dict[str, Any]]],
    model: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "skopeo").write_text(FAKE_SKOPEO.replace("{python}", sys.executable), encoding="utf-8")
    (tools / "skopeo").chmod(0o755)
    (tools / "kubectl").symlink_to(kubectl)
    monkeypatch.setenv("PATH", str(tools))  # no buildah, podman or docker: skopeo or nothing

    objects = rendered["dgx"]
    user_code = _one(objects, "Deployment", "sparky-user-code")["spec"]["template"]["spec"]
    sparky = next(
        e["value"]
        for e in user_code["containers"][0]["env"]
        if e["name"] == "DAGSTER_CURRENT_IMAGE"
    )
    archive = tmp_path / "sparky.tar"
    _docker_archive(archive, sparky)  # as `buildah push localhost/IMG docker-archive:F:IMG` writes
    blobs = _fake_models_dir(tmp_path / "models", model)
    out = tmp_path / "bundle"

    rc = bundle.main(
        [
            "--overlay",
            "dgx",
            "--out",
            str(out),
            "--models-dir",
            str(tmp_path / "models"),
            "--sparky-archive",
            str(archive),
            "--tar",
        ]
    )
    assert rc == 0
    manifest = json.loads((out / "bundle.json").read_text(encoding="utf-8"))
    assert {i["image"] for i in manifest["images"]} == _all_image_fields(objects)
    for entry in manifest["images"]:
        path = out / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert bundle.archive_tags(path) == {bundle.normalize_image(entry["image"])}
    pulled = (tools / "skopeo.log").read_text(encoding="utf-8")
    assert bundle.normalize_image(sparky) not in pulled  # never pulled from a registry
    assert pulled.count("copy ") == len(manifest["images"]) - 1
    for hexdigest, data in blobs.items():
        assert (out / "models" / "blobs" / f"sha256-{hexdigest}").read_bytes() == data
    assert not (out / "models" / "blobs" / f"sha256-{'0' * 64}").exists()
    with tarfile.open(tmp_path / "bundle.tar") as tar:
        assert "bundle/bundle.json" in tar.getnames()

    # A missing blob stops the bundle before any image is saved.
    (tmp_path / "models" / "blobs" / f"sha256-{next(iter(blobs))}").unlink()
    assert (
        bundle.main(
            [
                "--overlay",
                "dgx",
                "--out",
                str(tmp_path / "again"),
                "--models-dir",
                str(tmp_path / "models"),
            ]
        )
        == 1
    )
    assert not (tmp_path / "again").exists()
