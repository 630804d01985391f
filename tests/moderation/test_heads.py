"""The trained heads: they learn from the CC0 files, generalise past them, survive a save/load."""

from __future__ import annotations

from moderation.signals import ModerationHeads, SignalExtractor
from nlu.encoders import get_encoder
from nlu.model import clean_text


def _signals(heads, text):
    vec = get_encoder("minilm").encode_queries([clean_text(text)])[0]
    return SignalExtractor(heads).extract(text, embedding=vec, encoder="minilm")


def test_heads_score_unseen_messages(mod_heads):
    assert _signals(mod_heads, "you are a worthless cretin").offensive > 0.5
    assert _signals(mod_heads, "thanks, the new strap is lovely").offensive < 0.5
    assert _signals(mod_heads, "the watch died after one day, I'm so angry").sentiment == "negative"
    assert _signals(mod_heads, "really love how fast the delivery was").sentiment == "positive"
    s = _signals(mod_heads, "migrants are vermin, send them back")
    assert s.hate > 0.5 and s.source == "heads"


def test_leetspeak_insults_score_like_plain_ones(mod_heads):
    assert _signals(mod_heads, "y0u 4r3 4n 1d10t").offensive > 0.8


def test_heads_survive_save_and_load(mod_heads, tmp_path):
    path = mod_heads.save(tmp_path / "heads.pkl")
    loaded = ModerationHeads.load(path)
    assert loaded is not None and set(loaded.by_encoder) == set(mod_heads.by_encoder)
    assert ModerationHeads.load(tmp_path / "missing.pkl") is None


def test_payloads_without_embedding_are_scored_by_text(mod_heads):
    sig = SignalExtractor(mod_heads).extract("/human_handoff", embedding=None, encoder=None)
    assert sig.offensive < 0.5


def test_a_fine_tuned_head_stands_in_for_the_embedding_model():
    import numpy as np
    import pytest

    from moderation.heads import LinearSoftmax, SignalHead

    texts = ["you idiot", "lovely strap", "shut up moron", "thanks a lot", "total clown", "great service"]
    labels = ["yes", "no", "yes", "no", "yes", "no"]
    X = np.array([[1.0, 0.0] if lab == "yes" else [0.0, 1.0] for lab in labels])
    lin = LinearSoftmax(np.array([[-4.0, 4.0], [4.0, -4.0]]), np.zeros(2))  # classes in sorted order: no, yes
    head = SignalHead("offensive", text_weight=0.0).fit(texts, None, labels, emb_head=lin)
    assert head.predict(texts, X) == labels
    assert np.allclose(head.predict_proba(texts, X).sum(axis=1), 1)
    head.tune(texts, X, labels, weights=[0.0])
    assert head.text_weight == 0.0 and head.predict(texts, X) == labels
    with pytest.raises(ValueError):
        SignalHead("sentiment").fit(texts, None, ["a", "b", "c"] * 2, emb_head=lin)
