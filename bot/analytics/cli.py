"""`fancare report` and `fancare stats`: argument handling around `build_report`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from bot.analytics.build import build_report, default_window, format_stats
from bot.analytics.html import write_report
from bot.analytics.languages import coverage_from_config
from bot.config import FancareConfig
from bot.store import Store
from nlu.similar import default_embedder


def parse_when(value: str | None) -> datetime | None:
    """`YYYY-MM-DD` or an ISO time; an offset is converted to UTC (the store's naive UTC)."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"error: {value!r} is not a date (YYYY-MM-DD) or ISO time") from None
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def report_command(cfg: FancareConfig, args: argparse.Namespace) -> int:
    since, until = parse_when(args.since), parse_when(args.until)
    window = default_window(since, until, days=args.days)
    store = Store(cfg.store_url())
    try:
        store.migrate()
        # stats is the quick look: exact-repeat grouping only; the report groups by meaning
        embed = default_embedder() if args.command == "report" else None
        report = build_report(store, window, embed=embed, brand=cfg.brand.name, coverage=coverage_from_config(cfg))
    finally:
        store.dispose()
    if args.command == "stats":
        print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_stats(report))
        return 0
    html_path, json_path = write_report(report, args.out)
    print(format_stats(report))
    print(f"report: {html_path} (JSON: {json_path})", file=sys.stderr)
    return 0
