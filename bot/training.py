"""`fancare train` with a safety net: compare with the serving model, promote only if not worse.

The new model is written beside the current one and `models/LATEST` (which running assistants
watch, see `bot/model_watch.py`) moves to it only when its cross-validated macro-F1 is not lower
than the current data's (`nlu/compare.py`), or when `--force` says so. Either way the new model
directory, its training-data snapshot and `comparison.json` stay on disk for inspection.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.app import model_root, train_options
from bot.config import FancareConfig
from nlu.compare import Comparison, compare, format_comparison, load_snapshot, memoised_encoders, save_snapshot
from nlu.model import NLUModel
from nlu.readers import load_training_data
from nlu.training_data import TrainingData


@dataclass
class TrainOutcome:
    model: NLUModel
    path: Path
    promoted: bool
    comparison: Comparison | None


def promote(root: Path, version: str) -> None:
    """Point LATEST at `version` atomically (a watcher never reads a half-written file)."""
    tmp = root / ".LATEST.tmp"
    tmp.write_text(version + "\n")
    tmp.replace(root / "LATEST")


def write_language_table(cfg: FancareConfig, model_dir: Path) -> Path | None:
    """The words of the brand's own texts per language (nlu/language_corpus.py), built from this
    brand's help articles, reply translations, domain and training data and written next to the model:
    the assistant that serves the model reads short first messages with it. None (and the table
    shipped with fancare is used) when the brand has no domain file."""
    from nlu.language_corpus import MODEL_TABLE, build_from, write_table

    domain = cfg.resolve(cfg.dialogs.domain)
    if not domain.exists():
        return None
    table = build_from(cfg.resolve(cfg.knowledge_base.path), cfg.dialogs.translations_dir(cfg), domain,
                       [cfg.resolve(p) for p in cfg.nlu.training_data], languages=cfg.brand.all_languages())
    out = model_dir / MODEL_TABLE
    write_table(table, out)
    return out


def train_and_promote(cfg: FancareConfig, *, force: bool = False, folds: int = 5, out: TextIO | None = None
                      ) -> TrainOutcome:
    root = model_root(cfg)
    new = load_training_data([cfg.resolve(p) for p in cfg.nlu.training_data])
    old = load_snapshot(root)
    opts = train_options(cfg)
    cv_opts = {**opts, "finetune": False}  # fine-tuning per fold would cost minutes; heads are compared

    def cv_train(td: TrainingData) -> NLUModel:
        return NLUModel.train(td, **cv_opts)

    comparison: Comparison | None = None
    with memoised_encoders(NLUModel.encoders_for(opts["route"])):
        if old is not None:
            comparison = compare(old, new, cv_train, k=folds)
            if out:
                out.write(format_comparison(comparison) + "\n")
        elif out:
            out.write("no training-data snapshot next to the current model: nothing to compare with\n")
        model = NLUModel.train(new, **opts)
    staging = root / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.save(staging)
    path = root / model.version
    if path.exists():
        shutil.rmtree(path)
    (staging / model.version).replace(path)
    shutil.rmtree(staging, ignore_errors=True)
    if model.meta.get("finetuned"):  # its encoder moved with the directory: load it from there
        model = NLUModel.load(path)
    save_snapshot(path, new)
    write_language_table(cfg, path)
    if comparison is not None:
        (path / "comparison.json").write_text(json.dumps(comparison.as_dict(), indent=2, ensure_ascii=False))
    promoted = comparison is None or not comparison.worse or force
    if promoted:
        promote(root, model.version)
    return TrainOutcome(model, path, promoted, comparison)
