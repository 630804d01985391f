"""NLU options measured in BENCHMARKS.md: concatenated encoders and the TF-IDF model (real encoders)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from bot.config import NLUConfig
from nlu.model import NLUModel
from nlu.tfidf import TfidfIntentModel
from nlu.training_data import Example, TrainingData

DATA = {
    "card_arrival": ["my card has not arrived", "where is my new card", "card still not delivered",
                     "when will the card come", "how long until my card arrives", "card delivery is late"],
    "top_up": ["how do I top up", "add money to my account", "top up with bank transfer",
               "my top up failed", "can I top up by cash", "topping up my balance"],
    "exchange_rate": ["what exchange rate do you use", "currency conversion rate", "is the rate fair",
                      "how is the exchange rate set", "rate for euros to dollars", "exchange fees and rates"],
}


def _td() -> TrainingData:
    return TrainingData([Example(t, lab) for lab, texts in DATA.items() for t in texts])


def test_tfidf_model_learns_tokens_and_follows_the_callers_label_order() -> None:
    texts, labels = _td().texts_and_labels()
    m = TfidfIntentModel().fit(texts, labels)
    assert m.labels == sorted(DATA)
    p = m.predict_proba(["top up my account please"])
    assert m.labels[int(np.argmax(p[0]))] == "top_up"
    order = ["top_up", "exchange_rate", "unknown", "card_arrival"]
    q = m.predict_proba(["top up my account please"], order)
    assert q.shape == (1, 4) and q[0, 2] == 0.0
    assert q[0, 0] == pytest.approx(p[0, m.labels.index("top_up")])


def _masking_moves_the_reading(masked: TfidfIntentModel, texts: list[str], labels: list[str], message: str,
                               away_from: str, to: str) -> None:
    """`masked` (unfitted, with names or patterns) reads `message` less as `away_from` than the same
    model without masks, and as `to`; the masks travel with the saved model."""
    masked.fit(texts, labels)
    plain = TfidfIntentModel().fit(texts, labels)
    col = masked.labels.index(away_from)
    assert masked.predict_proba([message])[0, col] < plain.predict_proba([message])[0, col]
    assert masked.labels[int(np.argmax(masked.predict_proba([message])[0]))] == to
    again = pickle.loads(pickle.dumps(masked))
    assert again.predict_proba([message]) == pytest.approx(masked.predict_proba([message]))


def test_tfidf_masks_product_names_so_naming_one_is_no_evidence_for_an_intent() -> None:
    # the only example naming the projector is a safety report; a fan asking about its picture is not
    crisis = ["the beam projector is smoking", "smoke coming out of it", "it caught fire",
              "the battery swelled up and burned me", "sparks from the socket", "it is melting"]
    faq = ["how do I focus the picture", "the picture is blurry", "how do I connect my laptop",
           "what size is the picture", "how do I reset it", "does it work with netflix"]
    texts, labels = crisis + faq, ["crisis"] * 6 + ["faq"] * 6
    names = {"product": ["Voltora Beam", "beam projector", "beam"]}
    _masking_moves_the_reading(TfidfIntentModel(names=names), texts, labels,
                               "my beam projector picture is blurry", away_from="crisis", to="faq")


def test_tfidf_masks_regex_entities_so_an_email_is_not_a_spam_link() -> None:
    # spam examples carry links; the one answer giving an email is a plain order status reply
    spam = ["win free followers at promo.example.com", "cheap followers visit bestdeals.com now",
            "click spamlink.net for prizes", "free crypto at coins4u.com", "dm me or visit win.example.net",
            "follow for follow, go to likes.example.com"]
    order = ["where is my order VT-482913", "my parcel has not arrived", "order VT-120044 is late",
             "when does my package come", "tracking says nothing", "status of my order please"]
    texts, labels = spam + order, ["spam"] * 6 + ["order_status"] * 6
    patterns = {"email": [r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"], "order_number": [r"\bVT-?\d{6}\b"]}
    masked = TfidfIntentModel(patterns=patterns)
    assert masked._masked("ana@example.com, order vt-555123") == "_email_, order _order_number_"
    _masking_moves_the_reading(masked, texts, labels, "my order is VT-999001, email ana@example.com",
                               away_from="spam", to="order_status")


def test_the_default_config_averages_the_tfidf_model_in() -> None:
    assert NLUConfig().features == ["tfidf"] and NLUConfig().tfidf_weight == "cv"


def test_concatenated_encoders_and_tfidf_round_trip(tmp_path: Path) -> None:
    model = NLUModel.train(_td(), route="minilm", features=["e5", "tfidf"], threshold=0.0, calibrate=False)
    assert model.head_inputs == {"minilm": ["minilm", "e5"]}
    assert model.heads["minilm"]._lr is not None and model.heads["minilm"]._lr.coef_.shape[1] == 768
    assert model.encoder_names == ["e5", "minilm"]
    probe = ["has my card shipped yet", "which rate do you apply to dollars", "put money on my balance"]
    one = [model.parse(t) for t in probe]
    many = model.parse_many(probe)
    assert [r.intent for r in one] == ["card_arrival", "exchange_rate", "top_up"]
    assert [r.intent for r in many] == [r.intent for r in one]
    assert [r.confidence for r in many] == pytest.approx([r.confidence for r in one], abs=1e-5)
    model.save(tmp_path)
    loaded = NLUModel.load(tmp_path)
    assert loaded.text_model is not None and loaded.text_weight == pytest.approx(0.5)
    assert loaded.meta["features"] == ["e5", "tfidf"]
    assert [r.confidence for r in loaded.parse_many(probe)] == pytest.approx([r.confidence for r in one], abs=1e-5)


def test_tfidf_weight_changes_the_probabilities() -> None:
    plain = NLUModel.train(_td(), route="minilm", threshold=0.0, calibrate=False)
    mixed = NLUModel.train(_td(), route="minilm", features=["tfidf"], text_weight=0.7, threshold=0.0,
                           calibrate=False)
    a, b = plain.parse("top up"), mixed.parse("top up")
    assert a.intent == b.intent == "top_up"
    assert a.confidence != pytest.approx(b.confidence, abs=1e-4)
    assert plain.text_model is None and plain.head_inputs == {"minilm": ["minilm"]}


def test_models_saved_before_the_options_still_load(tmp_path: Path) -> None:
    model = NLUModel.train(_td(), route="minilm", threshold=0.0, calibrate=False)
    out = model.save(tmp_path)
    with open(out / "model.pkl", "rb") as f:
        state = pickle.load(f)  # noqa: S301 - our own artifact
    for key in ("head_inputs", "text_model", "text_weight"):
        state.pop(key)
    with open(out / "model.pkl", "wb") as f:
        pickle.dump(state, f)
    loaded = NLUModel.load(tmp_path)
    assert loaded.head_inputs == {"minilm": ["minilm"]} and loaded.text_model is None
    assert loaded.parse("where is my new card").intent == "card_arrival"


def test_unknown_feature_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown NLU features"):
        NLUModel.train(_td(), route="minilm", features=["bert"])
    with pytest.raises(ValueError):
        NLUConfig(features=["bert"])  # type: ignore[list-item]
    assert NLUConfig().finetune is False


@pytest.mark.parametrize("intents", [2, 3])
def test_tfidf_direct_path_gives_scikit_learns_probabilities(intents: int) -> None:
    # single messages skip scikit-learn's input checks (nlu/tfidf.py `_decision`); the numbers must not move
    texts, labels = _td().texts_and_labels()
    keep = sorted(DATA)[:intents]
    rows = [(t, y) for t, y in zip(texts, labels, strict=True) if y in keep]
    m = TfidfIntentModel().fit([t for t, _ in rows], [y for _, y in rows])
    probe = ["top up my card with cash", "what rate for dollars?", "card never arrived!!", "", "zzzz 123",
             "exchange exchange exchange rate rate"]
    fast = np.vstack([m.predict_proba([t]) for t in probe])
    batch = m._lr.predict_proba(m._features(probe))
    assert fast == pytest.approx(batch, abs=1e-12)
    again = pickle.loads(pickle.dumps(m))  # the direct path's tables are rebuilt after loading
    assert np.vstack([again.predict_proba([t]) for t in probe]) == pytest.approx(batch, abs=1e-12)
