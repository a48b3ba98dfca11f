"""Benchmark: the README's two Quickstart lines, timed on a fresh clone.

Why it exists: the Quickstart promises a demo digest in under a minute and the whole test suite
in under six on a 2-core machine, from a fresh clone that has only Python 3.11 and git. This
script takes the two lines verbatim from README.md's first `## Quickstart` code block, clones
the repository (its committed HEAD) into a temporary folder and runs line 1, then line 2, in
that clone, printing each line's wall time. `--cold` gives uv an empty cache, so every wheel
is downloaded as on a new machine; by default the user's uv cache is used.

Usage: python benchmarks/quickstart.py [--repo PATH] [--cold] [--only 1|2] [--keep]

The last lines printed are `line1_s=<float>` and/or `line2_s=<float>`; the exit status is the
first failing line's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quickstart_lines(readme: Path) -> list[str]:
    """The commands of the first fenced block under `## Quickstart`."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(r"^## Quickstart\s*\n.*?```[a-z]*\n(.*?)```", text, re.S | re.M)
    if match is None:
        raise SystemExit(f"{readme}: no code block under '## Quickstart'")
    return [line for line in match.group(1).splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository to clone")
    parser.add_argument("--cold", action="store_true", help="an empty uv cache")
    parser.add_argument("--only", choices=["1", "2"], help="run one line only")
    parser.add_argument("--keep", action="store_true", help="keep the clone and print its path")
    args = parser.parse_args(argv)

    lines = quickstart_lines(args.repo / "README.md")
    if len(lines) != 2:
        raise SystemExit(f"the Quickstart block has {len(lines)} lines, expected 2")
    scratch = Path(tempfile.mkdtemp(prefix="sparky-quickstart-"))
    clone = scratch / "sparky"
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "DAGSTER_HOME", "SPARKY_CONFIG", "PYTHONPATH"):
        env.pop(name, None)
    if args.cold:
        env["UV_CACHE_DIR"] = str(scratch / "uv-cache")
    subprocess.run(["git", "clone", "-q", str(args.repo), str(clone)], check=True)
    status = 0
    timings: list[str] = []
    try:
        for number, line in enumerate(lines, start=1):
            if args.only and str(number) != args.only:
                continue
            print(f"$ {line}", flush=True)
            started = time.perf_counter()
            proc = subprocess.run(["bash", "-c", line], cwd=clone, env=env, check=False)
            elapsed = time.perf_counter() - started
            timings.append(f"line{number}_s={elapsed:.1f}")
            if proc.returncode != 0:
                print(f"line {number} failed with exit status {proc.returncode}", file=sys.stderr)
                status = proc.returncode
                break
    finally:
        if args.keep:
            print(f"clone kept at {clone}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"cpus={os.cpu_count()}")
    for timing in timings:
        print(timing)
    return status


if __name__ == "__main__":
    sys.exit(main())
