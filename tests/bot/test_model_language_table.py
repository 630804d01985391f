"""`fancare train` writes the table of the brand's own words per language next to the model, and the
assistant serving that model reads first messages with it (nlu/language_corpus.py, bot/training.py).
Before, only the demo brand's table shipped with fancare was used: a brand's own articles, replies and
examples were no evidence for the language of a short first message."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from bot.app import App, model_language_table
from bot.config import load_config
from bot.training import train_and_promote
from nlu import language
from nlu.language_corpus import MODEL_TABLE, load
from nlu.readers import load_training_data, to_rasa_yaml
from nlu.training_data import TrainingData
from tests.conftest import REPO, write_config

BRAND_WORD = "zintaku"  # a word only this brand's Turkish replies use (alone: "und" for the shipped table)


def _brand(tmp_path: Path) -> Path:
    data = tmp_path / "training_data"
    data.mkdir()
    full = load_training_data([REPO / "training_data" / "nlu.yml"])
    small = TrainingData()
    for intent in ("greet", "goodbye", "thanks", "order_status"):
        small.examples.extend([e for e in full.examples if e.intent == intent][:10])
    (data / "nlu.yml").write_text(to_rasa_yaml(small))
    translations = tmp_path / "translations"
    shutil.copytree(REPO / "dialogs" / "translations", translations)
    tr = translations / "tr.yml"
    tr.write_text(tr.read_text(encoding="utf-8").replace(
        "responses:\n", f'responses:\n  utter_zintaku:\n    - text: "Katılan herkese bir {BRAND_WORD} hediye!"\n', 1),
        encoding="utf-8")
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", tmp_path / "models",
                        nlu={"training_data": [str(data)], "model_dir": str(tmp_path / "models"), "encoder": "minilm"},
                        dialogs={"domain": str(REPO / "dialogs" / "domain.yml"), "flows": [str(REPO / "dialogs" / "flows.yml")],
                                 "translations": str(translations)})


def test_train_writes_the_brands_table_and_the_assistant_reads_with_it(tmp_path: Path) -> None:
    cfg = load_config(_brand(tmp_path))
    trained = train_and_promote(cfg, folds=3, out=io.StringIO())
    table = trained.path / MODEL_TABLE
    assert table.is_file() and model_language_table(cfg) == table
    words = load(table)
    assert words[BRAND_WORD] == ("tr",)  # the brand's own reply
    assert "reembolso" in words  # and the words of its articles and translations, as in the shipped table
    app = App(cfg)
    try:
        assert language._configured[2] == str(table)  # what detect_language now reads with
        assert language.detect_language(f"{BRAND_WORD}!")[0] == "tr"
    finally:
        app.store.dispose()
        language.configure(language.DEFAULT_LANGUAGES, warm=False)  # other tests: the shipped table


def test_without_a_trained_table_the_shipped_one_is_read(tmp_path: Path) -> None:
    cfg = load_config(_brand(tmp_path))
    assert model_language_table(cfg) is None
    assert language.detect_language(f"{BRAND_WORD}!")[0] == "und"
