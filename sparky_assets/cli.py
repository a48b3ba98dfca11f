"""`sparky`: small helpers for the shell around Dagster's own CLI (used by the justfile).

sparky range --last 7     prints START...END for `dagster asset materialize --partition-range`
sparky digests --last 7   prints the paths of the daily digests of those days that exist
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from sparky_assets.lib.daily import DAY_FORMAT
from sparky_resources.config import ConfigError, get_config


def _days(first: str, last: str) -> list[str]:
    start = dt.datetime.strptime(first, DAY_FORMAT).date()
    end = dt.datetime.strptime(last, DAY_FORMAT).date()
    return [
        (start + dt.timedelta(days=i)).strftime(DAY_FORMAT) for i in range((end - start).days + 1)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sparky", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("range", "digests"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--last", type=int, default=7, help="number of days up to today")
    args = parser.parse_args(argv)
    try:
        from sparky_assets.partitions import recent_range

        config = get_config()
        first, last = recent_range(config, args.last)
    except (ConfigError, ValueError) as exc:
        print(f"sparky: {exc}", file=sys.stderr)
        return 2
    if args.command == "range":
        print(f"{first}...{last}")
        return 0
    found = [config.output_dir / "daily" / f"{d}.md" for d in _days(first, last)]
    found = [p for p in found if p.exists()]
    for path in found:
        print(path)
    if not found:
        print(
            f"sparky: no daily digests for {first}...{last} in {config.output_dir}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
