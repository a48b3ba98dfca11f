"""`sparky`: small helpers for the shell around Dagster's own CLI (used by the justfile).

sparky launch --job JOB ...  runs a job here as a run of the code location `sparky` (the UI can
                             re-execute it); --partition KEY or --partition-range FIRST...LAST
sparky range --last 7        prints START...END for `sparky launch --partition-range`
sparky digests --last 7      prints the paths of the daily digests of those days that exist
                             (or --day DATE, --week MONDAY, --month FIRST: that digest's path)
sparky check-partition DATE  exits 0 if DATE is a daily partition, else prints one line, exits 2
sparky window weekly KEY     prints FIRST...LAST, the daily partitions of a week (or `monthly`)

"Today" is today in `[sparky].timezone`. `--now INSTANT` (ISO 8601 with an offset) pins the
clock, for tests and for reproducing what a past run saw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

from sparky_resources.clock import DAY_FORMAT, calendar_days
from sparky_resources.config import ConfigError, SparkyConfig, get_config

_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _days(first: str, last: str) -> list[str]:
    """Every day key from `first` to `last`, both included."""
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return list(calendar_days(start, end + dt.timedelta(days=1)))


def _instant(text: str) -> dt.datetime:
    """`--now` as typed by a person: unlike data (clock.parse_instant, where no offset means
    UTC), an offset is required, since a local time without one is the likelier mistake."""
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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    launch = sub.add_parser(
        "launch",
        help="run a job here as a run of the code location `sparky` (the UI can re-execute it)",
        description="Run JOB in this process, logging at INFO, as a run of workspace.yaml's code "
        "location `sparky` on the instance in DAGSTER_HOME, so the Dagster UI lists it and can "
        "re-execute it. Exit 0 when the run succeeded, 1 when it failed, 2 when it could not "
        "start.",
    )
    launch.add_argument("--job", required=True, metavar="JOB", help="e.g. daily_digest_job")
    keys = launch.add_mutually_exclusive_group()
    keys.add_argument("--partition", metavar="KEY", help="one partition key, YYYY-MM-DD")
    keys.add_argument(
        "--partition-range",
        metavar="FIRST...LAST",
        help="a range of partition keys, materialized in one run",
    )
    recent = sub.add_parser(
        "range",
        parents=[clock],
        help="print FIRST...LAST: the last N days up to today",
        description="Print FIRST...LAST, the daily partitions of the last N days up to today "
        "(clamped to start_date), for `sparky launch --partition-range`.",
    )
    recent.add_argument("--last", type=int, default=7, help="number of days up to today")
    digests = sub.add_parser(
        "digests",
        parents=[clock],
        help="print the paths of digests that exist",
        description="Print the paths of the daily digests of the last N days that exist, or of "
        "one daily, weekly or monthly digest; exit 1 with one line when there is none.",
    )
    which = digests.add_mutually_exclusive_group()
    which.add_argument("--last", type=int, default=7, help="number of days up to today")
    which.add_argument("--day", metavar="DATE", help="the daily digest of DATE")
    which.add_argument("--week", metavar="MONDAY", help="the weekly digest of the week of MONDAY")
    which.add_argument("--month", metavar="FIRST", help="the monthly digest of the month of FIRST")
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
        "that are daily partitions (start_date ... today). Days before start_date are named on "
        "stderr: they are never collected.",
    )
    window.add_argument("period", choices=("weekly", "monthly"))
    window.add_argument("key", metavar="KEY", help="the window's partition key, YYYY-MM-DD")
    return parser


def _before_start(config: SparkyConfig, period: str, key: str) -> tuple[str, bool] | None:
    """One line naming the window's days before `[sparky].start_date`, and whether that is the
    whole window; None when there are none. Those days are no daily partition, so no run will
    ever collect them (re-running the window later won't)."""
    from sparky_resources.clock import window_dates

    first, after = window_dates(period, key)  # type: ignore[arg-type]
    start = config.sparky.start_date
    if first >= start:
        return None
    last = min(start, after) - dt.timedelta(days=1)
    days = f"{first:{DAY_FORMAT}}"
    if last > first:
        days += f" ... {last:{DAY_FORMAT}}"
    whole = after <= start
    return (
        f"the {period} window {key} {'is all' if whole else 'starts'} before [sparky].start_date "
        f"{start:{DAY_FORMAT}}: {days} will never be collected (not a daily partition; set an "
        "earlier start_date to include them)"
    ), whole


def _digest_path(config: SparkyConfig, period: str, key: str) -> Path:
    """`<output_dir>/<period>/<key>.md` for a key that is its window's first day, YYYY-MM-DD."""
    from sparky_resources.clock import window_dates

    try:
        if not _KEY.fullmatch(key):
            raise ValueError
        window_dates(period, key)  # type: ignore[arg-type]
    except ValueError:
        first_day = {"daily": "a date", "weekly": "a Monday", "monthly": "the 1st of a month"}
        raise ValueError(
            f"{period} digest key {key!r} is not {first_day[period]} written as YYYY-MM-DD"
        ) from None
    return config.output_dir / period / f"{key}.md"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "launch":
        from sparky_assets.launch import main as launch_main

        return launch_main(args.job, args.partition, args.partition_range)
    try:
        from sparky_assets.partitions import check_partition_key, recent_range, window_day_range

        config = get_config()
        if args.command == "check-partition":
            check_partition_key(config, args.date, args.now)
            return 0
        if args.command == "window":
            before = _before_start(config, args.period, args.key)  # checks the key too
            if before and before[1]:
                raise ValueError(before[0])  # no day of it will ever be a partition
            first, last = window_day_range(config, args.period, args.key, args.now)
            if before:
                print(f"sparky: {before[0]}", file=sys.stderr)
            print(f"{first}...{last}")
            return 0
        if args.command == "digests" and (args.day or args.week or args.month):
            period, key = next(
                (p, k)
                for p, k in (("daily", args.day), ("weekly", args.week), ("monthly", args.month))
                if k
            )
            path = _digest_path(config, period, key)
            if not path.exists():
                print(f"sparky: no {period} digest {key} in {config.output_dir}", file=sys.stderr)
                return 1
            print(path)
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
