"""The data contract over time: files written by every schema_version still read and validate.

tests/fixtures/contract/v<N>/ holds one day's files as Sparky version N wrote them: 2024-06-03
in America/New_York over tests/gitrepo.py's known history plus a clone that is gone
(tests/fixtures/contract/README.md says how they were made). Each is read through today's
DataStore and validated with today's models, so a model change that cannot read old partitions
fails here. The expected values are worked out by hand in tests/gitrepo.py: on June 3 the
default branch has app (+12 -0, 2 files), feature (+1 -1, 2 files: a binary logo and a rename),
bob (+3 -1, 1 file, mailmapped), the merge, bot (+1 -1, 1 file) and empty (0, 0, 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sparky_assets.lib.insights import Insights
from sparky_assets.lib.metrics import ActivityMetrics
from sparky_resources.models import CommitRecord, Coverage, RepoInfo
from sparky_resources.store import SCHEMA_VERSION, DataStore, SchemaVersionError

FIXTURES = Path(__file__).parent / "fixtures" / "contract"
VERSIONS = sorted(int(p.name[1:]) for p in FIXTURES.glob("v*") if p.is_dir())
DAY = "2024-06-03"
FILES = [
    ("raw", "repositories"),
    ("raw", "raw_commits"),
    ("raw", "_coverage/raw_commits"),
    ("processed", "daily_metrics"),
    ("processed", "daily_insights"),
]
REGENERATE = "regenerate with tests/fixtures/contract/make_fixtures.py (see the README there)"


def fixture_store(version: int) -> DataStore:
    root = FIXTURES / f"v{version}"
    return DataStore(data_dir=str(root), output_dir=str(root / "unused"))


def read(version: int, layer: str, asset: str) -> Any:
    found, payload = fixture_store(version).read_versioned(layer, asset, DAY)  # type: ignore[arg-type]
    assert found == version
    return payload


def test_every_version_up_to_the_current_one_has_fixtures() -> None:
    found = VERSIONS
    assert found == list(range(1, SCHEMA_VERSION + 1)), REGENERATE
    for version in VERSIONS:
        root = FIXTURES / f"v{version}"
        files = sorted(p.relative_to(root) for p in root.rglob("*.json"))
        assert files == sorted(Path(layer, asset, f"{DAY}.json") for layer, asset in FILES)
        for path in files:
            text = (root / path).read_text(encoding="utf-8")
            assert "/tmp" not in text and "sparky-" not in text, path  # no machine's paths


@pytest.mark.parametrize("version", VERSIONS)
def test_commit_records(version: int) -> None:
    records = [CommitRecord.model_validate(r) for r in read(version, "raw", "raw_commits")]
    assert [r.subject for r in records] == [
        "Add app",
        "Logo and docs rename",
        "Tweak app",
        "Merge feature",
        "Bump deps",
        "Empty",
    ]
    assert {r.repo for r in records} == {"known"}
    work = [r for r in records if not r.is_merge]
    assert sum(r.additions for r in work) == 17
    assert sum(r.deletions for r in work) == 3
    assert sum(r.files_changed for r in work) == 6
    assert sum(r.binary_files for r in work) == 1
    (merge,) = [r for r in records if r.is_merge]
    assert len(merge.parents) == 2 and (merge.additions, merge.files_changed) == (0, 0)
    bob = records[2]
    assert (bob.author_name, bob.author_email) == ("Bob Builder", "bob@example.com")
    assert (bob.committed_at, bob.authored_at) == (
        "2024-06-04T01:30:00+02:00",
        "2024-06-01T08:00:00+00:00",
    )
    assert records[-1].committed_at == "2024-06-03T23:59:59-04:00"


@pytest.mark.parametrize("version", VERSIONS)
def test_repositories(version: int) -> None:
    known, gone = (RepoInfo.model_validate(r) for r in read(version, "raw", "repositories"))
    assert (known.name, known.path, known.error, known.bare) == (
        "known",
        "/srv/clones/known",
        None,
        False,
    )
    if version == 1:
        # Version 1 recorded today's tip for every day: the skewed-clock commit of May 20.
        assert known.head_committed_at == "2024-05-20T12:00:00+00:00"
        assert (gone.name, gone.error) == ("gone", "no such path: /srv/clones/gone")
    else:
        # The branch at the day's end: "empty", 23:59:59 New York = 03:59:59Z June 4.
        assert known.head_committed_at == "2024-06-04T03:59:59+00:00"
        assert (known.default_branch, known.default_branch_reason) == (
            "main",
            "main: no remote; reading HEAD",
        )
        # Published errors name no server path.
        assert (gone.name, gone.error) == ("gone", "the configured path does not exist")


@pytest.mark.parametrize("version", VERSIONS)
def test_coverage(version: int) -> None:
    coverage = Coverage.model_validate(read(version, "raw", "_coverage/raw_commits"))
    assert (coverage.partition, coverage.window_start, coverage.window_end) == (
        DAY,
        "2024-06-03T00:00:00-04:00",
        "2024-06-04T00:00:00-04:00",
    )
    assert not coverage.is_partial
    assert [(r.repo, r.status, r.commits) for r in coverage.repos] == [
        ("known", "ok", 6),
        ("gone", "failed", 0),
    ]
    assert [r.repo for r in coverage.failed] == ["gone"]


@pytest.mark.parametrize("version", VERSIONS)
def test_daily_metrics(version: int) -> None:
    m = ActivityMetrics.model_validate(read(version, "processed", "daily_metrics"))
    assert (m.partition, m.commits, m.merges, m.active_contributors, m.human_contributors) == (
        DAY,
        5,
        1,
        5,
        4,
    )
    assert (m.lines_added, m.lines_deleted, m.files_changed, m.bot_commits) == (17, 3, 6, 1)
    assert [(r.repo, r.commits) for r in m.per_repo] == [("known", 5)]
    assert "dependabot[bot]" in {c.name for c in m.top_contributors if c.is_bot}


@pytest.mark.parametrize("version", VERSIONS)
def test_daily_insights(version: int) -> None:
    insights = Insights.model_validate(read(version, "processed", "daily_insights"))
    assert insights.headline == "5 commits by 5 contributors in 1 repository, +17/-3 lines."
    assert "Not collected: gone (see coverage)." in insights.highlights
    assert insights.writer == "deterministic"


def test_version_1_commit_records_upgrade_to_what_the_current_version_writes() -> None:
    """Version 1 had no epochs: reading derives them, equal to what git's %ct/%at say."""
    old = [CommitRecord.model_validate(r) for r in read(1, "raw", "raw_commits")]
    new = [CommitRecord.model_validate(r) for r in read(SCHEMA_VERSION, "raw", "raw_commits")]
    assert [r.model_dump(exclude={"sha", "parents"}) for r in old] == [
        r.model_dump(exclude={"sha", "parents"}) for r in new
    ]
    # By hand: Bob committed at 01:30 +02:00 on June 4 = 23:30Z June 3.
    assert old[2].committed_ts == 1717457400


@pytest.mark.parametrize(("layer", "asset"), FILES)
def test_the_current_fixture_written_back_is_byte_for_byte_the_same(
    tmp_path: Path, layer: str, asset: str
) -> None:
    payload = fixture_store(SCHEMA_VERSION).read(layer, asset, DAY)  # type: ignore[arg-type]
    store = DataStore(data_dir=str(tmp_path), output_dir=str(tmp_path / "out"))
    written = store.write(layer, asset, DAY, payload)  # type: ignore[arg-type]
    current = FIXTURES / f"v{SCHEMA_VERSION}" / layer / asset / f"{DAY}.json"
    assert written.read_bytes() == current.read_bytes(), REGENERATE
    document = json.loads(current.read_text(encoding="utf-8"))
    assert next(iter(document)) == "schema_version"
    assert document["schema_version"] == SCHEMA_VERSION
    version_1 = json.loads((FIXTURES / "v1" / layer / asset / f"{DAY}.json").read_bytes())
    assert "schema_version" not in (version_1 if isinstance(version_1, dict) else {})


@pytest.mark.parametrize(("layer", "asset"), FILES)
def test_a_file_from_a_newer_sparky_fails_with_the_clear_line(
    tmp_path: Path, layer: str, asset: str
) -> None:
    current = FIXTURES / f"v{SCHEMA_VERSION}" / layer / asset / f"{DAY}.json"
    document = json.loads(current.read_text(encoding="utf-8"))
    document["schema_version"] = SCHEMA_VERSION + 1
    store = DataStore(data_dir=str(tmp_path), output_dir=str(tmp_path / "out"))
    path = store.path(layer, asset, DAY)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SchemaVersionError) as info:
        store.read(layer, asset, DAY)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"cannot read {path}: it has schema_version {SCHEMA_VERSION + 1}, written by a newer "
        f"Sparky; this one understands schema_version 1 to {SCHEMA_VERSION}; upgrade Sparky"
    )
