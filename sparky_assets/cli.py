"""`sparky`: small helpers for the shell around Dagster's own CLI (used by the justfile).

sparky range --last 7        prints START...END for `dagster asset materialize --partition-range`
sparky digests --last 7      prints the paths of the daily digests of those days that exist
sparky check-partition DATE  exits 0 if DATE is a daily partition, else prints one line, exits 2
sparky window weekly KEY     prints FIRST...LAST, the daily partitions of a week (or `monthly`)

"Today" is today in `[sparky].timezone`. `--now INSTANT` (ISO 8601 with an offset) pins the
clock, for tests and for reproducing what a past run saw.
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


def _instant(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 instant with a UTC offset (e.g. 2025-06-03T23:30:00+02:00), "
            f"got {text!r}"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparky", description=__doc__.splitlines()[0])
    clock = argparse.ArgumentParser(add_help=False)
    clock.add_argument(
        "--now",
        type=_instant,
        metavar="INSTANT",
        help="act as if it were this instant (ISO 8601 with offset); default: the clock",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("range", "digests"):
        cmd = sub.add_parser(name, parents=[clock])
        cmd.add_argument("--last", type=int, default=7, help="number of days up to today")
    check = sub.add_parser(
        "check-partition",
        parents=[clock],
        help="validate a daily partition key",
        description="Exit 0 if DATE is a daily partition (start_date ... today in the org's "
        "timezone); otherwise print one line to stderr and exit 2.",
    )
    check.add_argument("date", metavar="DATE", help="a partition key, YYYY-MM-DD")
    window = sub.add_parser(
        "window",
        parents=[clock],
        help="the daily partitions of a week or month",
        description="Print FIRST...LAST: the week's (Monday KEY) or month's (KEY the 1st) days "
        "that are daily partitions (start_date ... today).",
    )
    window.add_argument("period", choices=("weekly", "monthly"))
    window.add_argument("key", metavar="KEY", help="the window's partition key, YYYY-MM-DD")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from sparky_assets.partitions import check_partition_key, recent_range, window_day_range

        config = get_config()
        if args.command == "check-partition":
            check_partition_key(config, args.date, args.now)
            return 0
        if args.command == "window":
            first, last = window_day_range(config, args.period, args.key, args.now)
            print(f"{first}...{last}")
            return 0
        first, last = recent_range(config, args.last, args.now)
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
