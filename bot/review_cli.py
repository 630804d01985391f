"""`fancare review`: build the inbox from the store and run the terminal UI on it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.analytics.cli import parse_when
from bot.config import FancareConfig
from bot.review import collect
from bot.review_tui import ReviewSession, run_review
from bot.store import Store
from nlu.readers import load_training_data
from nlu.similar import default_embedder


def training_dir(cfg: FancareConfig) -> Path:
    """Where labels go: the first configured training-data directory (or the first file's folder)."""
    first = cfg.resolve(cfg.nlu.training_data[0])
    return first if first.is_dir() else first.parent


def review_command(cfg: FancareConfig, args: argparse.Namespace) -> int:
    store = Store(cfg.store_url())
    try:
        store.migrate()
        items = collect(store, since=parse_when(args.since), margin=args.margin, limit=args.limit,
                        embed=default_embedder())
        if args.list:
            for it in items:
                print(f"{it.count:>5}  {it.predicted:<18} {it.confidence:.2f}  {it.text[:90]}")
            return 0
        known: set[str] | None = None
        domain_path = cfg.resolve(cfg.dialogs.domain)
        if domain_path.exists():
            from dialogs.domain import Domain

            known = set(Domain.load(domain_path).entities)
        intents = load_training_data([cfg.resolve(p) for p in cfg.nlu.training_data]).intents
        session = ReviewSession(store, training_dir(cfg), intents, operator=args.operator,
                                min_examples=cfg.nlu.min_examples_per_intent, known_entities=known)
        run_review(session, items, sys.stdin, sys.stdout)
        return 0
    finally:
        store.dispose()
