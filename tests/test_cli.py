"""Standard Dagster tooling on Sparky, as a user runs it: subprocesses, a real DAGSTER_HOME."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from gitrepo import KnownHistory

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def sparky_env(config: Path, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "SPARKY_CONFIG": str(config), "DAGSTER_HOME": str(home)}


def write_config(folder: Path, repos: list[Path], timezone: str = "Asia/Tokyo") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sparky.toml"
    listed = ", ".join(json.dumps(str(r)) for r in repos)
    path.write_text(
        f'[sparky]\ntimezone = "{timezone}"\nstart_date = 2024-05-01\n'
        f"[local]\nrepos = [{listed}]\n",
        encoding="utf-8",
    )
    return path


def materialize(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "sparky_assets.definitions", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_materialize_from_the_cli_with_another_config(known: KnownHistory, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [known.path])
    proc = materialize(
        sparky_env(config, tmp_path / "home"),
        "--select",
        "raw_commits,daily_metrics",
        "--partition",
        "2024-06-03",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Tokyo's June 3 is [June 2 15:00Z, June 3 15:00Z): zoe_midnight (22:15Z June 2, +2 lines),
    # alice_app (13:00Z, +12) and zoe_feature (14:00Z, +1 -1, 2 files); Bob's 23:30Z is June 4.
    raw = json.loads((tmp_path / "cfg/data/raw/raw_commits/2024-06-03.json").read_text())
    s = known.shas
    assert {r["sha"] for r in raw} == {s["zoe_midnight"], s["alice_app"], s["zoe_feature"]}
    metrics = json.loads(
        (tmp_path / "cfg/data/processed/daily_metrics/2024-06-03.json").read_text()
    )
    assert (
        metrics["commits"],
        metrics["lines_added"],
        metrics["lines_deleted"],
        metrics["active_contributors"],
        metrics["files_changed"],
    ) == (3, 15, 1, 2, 5)


def test_partition_outside_the_range_is_refused(known: KnownHistory, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [known.path])
    proc = materialize(
        sparky_env(config, tmp_path / "home"),
        "--select",
        "raw_commits",
        "--partition",
        "2020-01-01",
    )
    assert proc.returncode != 0
    assert "partition key `2020-01-01`" in proc.stderr
    assert not (tmp_path / "cfg/data").exists()


def test_missing_config_is_one_clear_line(tmp_path: Path) -> None:
    proc = materialize(
        sparky_env(tmp_path / "absent.toml", tmp_path / "home"),
        "--select",
        "raw_commits",
        "--partition",
        "2024-06-03",
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "absent.toml: config file not found (set SPARKY_CONFIG" in last


def test_recent_range_prints_the_last_days_for_the_cli(known: KnownHistory, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [known.path], timezone="Pacific/Kiritimati")
    proc = subprocess.run(
        [sys.executable, "-m", "sparky_assets.cli", "range", "--last", "7"],
        env=sparky_env(config, tmp_path / "home"),
        capture_output=True,
        text=True,
        check=True,
    )
    today = dt.datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    week_ago = today - dt.timedelta(days=6)
    assert proc.stdout.strip() == f"{week_ago:%Y-%m-%d}...{today:%Y-%m-%d}"


def test_dg_check_defs() -> None:
    proc = subprocess.run(
        [str(BIN / "dg"), "check", "defs"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All definitions loaded successfully." in proc.stdout + proc.stderr


def test_just_demo_materializes_recent_days_and_lists_the_digests(
    known: KnownHistory, tmp_path: Path
) -> None:
    # A clone whose newest commit is today, so the demo's window has real numbers.
    clone = tmp_path / "today"
    subprocess.run(["git", "clone", "-q", str(known.path), str(clone)], check=True)
    (clone / "new.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Tess Today",
        "GIT_AUTHOR_EMAIL": "tess@example.com",
        "GIT_COMMITTER_NAME": "Tess Today",
        "GIT_COMMITTER_EMAIL": "tess@example.com",
        "GIT_AUTHOR_DATE": now,
        "GIT_COMMITTER_DATE": now,
    }
    subprocess.run(["git", "-C", str(clone), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(clone), "commit", "-qm", "today"], check=True, env=env)
    config = write_config(tmp_path / "cfg", [clone], timezone="UTC")

    proc = subprocess.run(
        [str(BIN / "just"), "demo", "2"],
        cwd=ROOT,
        env=sparky_env(config, tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=1), today]
    listed = proc.stdout.strip().splitlines()[-2:]
    assert listed == [str(tmp_path / "cfg/output/daily" / f"{d:%Y-%m-%d}.md") for d in days]
    digest = Path(listed[-1]).read_text(encoding="utf-8")
    assert "| Commits | 1 |" in digest and "| Lines added | 3 |" in digest
    assert "Partial day" in digest
    assert (tmp_path / "home/dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_workspace_and_dg_project_name_the_same_code_location() -> None:
    import tomllib

    import yaml

    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    assert entry["python_module"] == {
        "module_name": project["code_location_target_module"],
        "location_name": project["code_location_name"],
    }
    assert project["code_location_name"] == "sparky"
