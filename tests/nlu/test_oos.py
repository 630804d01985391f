"""Out-of-scope thresholds (nlu/oos.py), the nearest-example vote (nlu/knn.py) and ranked intents for
two requests in one message, with the real MiniLM encoder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.cli import main as fancare
from nlu.classifier import IntentClassifier, cv_folds
from nlu.knn import NearestExamples
from nlu.model import OUT_OF_SCOPE, NLUModel
from nlu.oos import Scored, choose, simulate_from_oof
from nlu.training_data import Example, TrainingData

DATA = {
    "order_status": ["where is my order", "has my package shipped yet", "track my parcel please",
                     "when will my order arrive", "my delivery is late", "order still not here",
                     "what's the status of my order", "is my package on the way"],
    "refund_request": ["I want my money back", "please refund me", "how do I get a refund",
                       "refund my purchase", "I'd like a refund for the headphones", "give me my money back",
                       "can I get reimbursed", "return it and refund me"],
    "payment_methods": ["can I pay with paypal", "do you accept klarna", "which cards do you take",
                        "can I pay by bank transfer", "is apple pay accepted", "payment options please",
                        "can I pay in installments", "do you take credit cards"],
    "battery": ["battery drains fast", "my speaker won't hold a charge", "battery life is short",
                "how long does the battery last", "it dies after an hour", "charging takes forever",
                "battery is not charging", "power runs out quickly"],
    "greet": ["hi", "hello there", "hey", "good morning", "hi team", "hello!", "hey folks", "good evening"],
}
VAL_IN = [("where's my parcel", "order_status"), ("refund please", "refund_request"),
          ("do you take visa", "payment_methods"), ("the battery dies so fast", "battery"), ("hiya", "greet"),
          ("my order hasn't come", "order_status"), ("I need my money returned", "refund_request"),
          ("can I use google pay", "payment_methods"), ("charge doesn't last", "battery"), ("morning!", "greet")]
VAL_OOS = ["what's the capital of peru", "book a table for two tonight", "how tall is mount everest",
           "translate cheese into french", "set an alarm for 7am", "who won the football match",
           "recommend a good novel", "what is 17 times 23", "how do I boil an egg", "tell me a joke about cats"]
TEST_IN = [("has the parcel left the warehouse", "order_status"), ("money back please", "refund_request"),
           ("is paypal ok for paying", "payment_methods"), ("battery won't charge anymore", "battery"),
           ("hello", "greet")]
TEST_OOS = ["what's the weather in berlin", "play some jazz music", "how many miles to the moon",
            "write a poem about autumn", "what time is it in tokyo"]


def _td(rows: list[tuple[str, str]]) -> TrainingData:
    return TrainingData([Example(t, lab) for t, lab in rows])


def _train_rows() -> list[tuple[str, str]]:
    return [(t, lab) for lab, texts in DATA.items() for t in texts]


@pytest.fixture(scope="module")
def model() -> NLUModel:
    return NLUModel.train(_td(_train_rows()), route="minilm")


def test_nearest_examples_best_similarity_per_intent() -> None:
    X = np.array([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]], dtype=np.float32)
    knn = NearestExamples(X, ["a", "a", "b", "b"], ["a", "b"])
    sims = knn.class_similarity(np.array([[1.0, 0.0]]))
    assert sims[0] == pytest.approx([1.0, 0.6])
    assert knn.class_similarity(np.array([[0.0, 1.0]]))[0] == pytest.approx([0.6, 1.0])


def test_the_votes_out_of_fold_scores_come_from_the_other_folds_only() -> None:
    # every example has a near-twin; scored against all the other rows (leave-one-out) it would
    # meet its twin even when both are held out together, and the vote would look surer than it is
    rng = np.random.default_rng(1)
    base = rng.standard_normal((30, 8))
    X = np.vstack([base, base + 0.01 * rng.standard_normal((30, 8))])
    y = [["a", "b", "c"][i % 3] for i in range(30)] * 2
    head = IntentClassifier().fit(X, y)
    assert head.oof is not None
    sims = head.oof[1]
    for tr, te in cv_folds(y, 0):
        expected = NearestExamples(X[tr], [y[i] for i in tr], head.labels).class_similarity(X[te])
        assert sims[te] == pytest.approx(expected)


def test_knn_weight_is_chosen_by_cross_validation_and_helps_where_a_linear_head_cannot() -> None:
    # two intents in XOR layout: no straight line separates them, nearest examples do
    rng = np.random.default_rng(0)
    centres = {"a": [(1, 1), (-1, -1)], "b": [(1, -1), (-1, 1)]}
    X, y = [], []
    for lab, cs in centres.items():
        for c in cs:
            X.append(np.array(c) + 0.15 * rng.standard_normal((20, 2)))
            y += [lab] * 20
    Xa = np.vstack(X)
    head = IntentClassifier().fit(Xa, y)
    assert head.knn_weight > 0  # the smallest weight that gets the out-of-fold answers right
    plain = IntentClassifier().fit(Xa, y, knn=False)
    Q = np.array([[0.9, 1.1], [-1.1, -0.9], [1.0, -1.0], [-0.9, 1.1]])
    labels = np.array(head.labels)
    assert list(labels[head.predict_proba(Q).argmax(axis=1)]) == ["a", "a", "b", "b"]
    assert list(labels[plain.predict_proba(Q).argmax(axis=1)]) != ["a", "a", "b", "b"]


def test_simulated_unknowns_leave_the_true_intent_out() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    sims = np.array([[0.9, 0.5, 0.3], [0.2, 0.95, 0.4]])
    s = simulate_from_oof(probs, sims, np.array([0, 1]), ["a", "b", "c"])
    assert list(s.is_oos) == [False, False, True, True]
    assert s.prob[2] == pytest.approx(0.2 / 0.3) and s.similarity[2] == pytest.approx(0.5)
    assert s.similarity[3] == pytest.approx(0.4) and not s.correct[2:].any()


def test_recall_target_criterion_keeps_the_best_in_scope_accuracy_that_reaches_the_target() -> None:
    scored = Scored(prob=np.array([0.9, 0.8, 0.5, 0.6, 0.3, 0.2]),
                    similarity=np.array([0.9, 0.9, 0.9, 0.5, 0.5, 0.5]),
                    correct=np.array([True, True, True, False, False, False]),
                    predicted_oos=np.zeros(6, dtype=bool), is_oos=np.array([False] * 3 + [True] * 3))
    t = choose(scored, "recall_target", 0.85)
    assert t.oos_recall == 1.0 and t.in_scope_accuracy == 1.0 and t.similarity > 0.5
    with pytest.raises(ValueError, match="out-of-scope examples"):
        choose(Scored(scored.prob, scored.similarity, scored.correct, scored.predicted_oos,
                      np.zeros(6, dtype=bool)))


def test_default_thresholds_come_from_cross_validation_on_train(model: NLUModel) -> None:
    oos = model.meta["oos"]
    assert oos["source"] == "cv" and oos["criterion"] == "in_scope_loss"
    assert oos["in_scope_accuracy"] >= 0.9 and oos["oos_recall"] > 0.5  # measured on held-out folds
    r = model.parse("what's the capital of peru")
    assert r.fallback and r.intent == OUT_OF_SCOPE and r.similarity is not None and r.similarity < 0.6
    assert not model.parse("where is my package").fallback
    fixed = NLUModel.train(_td(_train_rows()), route="minilm", oos="fixed", threshold=0.3)
    assert fixed.meta["oos"]["source"] == "fixed" and fixed.oos.similarity == -1.0


def test_thresholds_chosen_on_val_and_reported_with_test_in_one_run(tmp_path: Path) -> None:
    def write(name: str, rows: list[tuple[str, str]]) -> Path:
        p = tmp_path / name
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "intent"])
            w.writerows(rows)
        return p

    train = write("train.csv", _train_rows())
    val = write("val.csv", VAL_IN + [(t, OUT_OF_SCOPE) for t in VAL_OOS])
    test = write("test.csv", TEST_IN + [(t, OUT_OF_SCOPE) for t in TEST_OOS])
    cfg = tmp_path / "config.yml"
    cfg.write_text(yaml.safe_dump({"nlu": {"encoder": "minilm", "oos_recall_target": 0.8}}))
    out = tmp_path / "report"
    rc = fancare(["test", "nlu", "--config", str(cfg), "--train", str(train), "--val", str(val),
                  "--data", str(test), "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["oos_thresholds"]["source"] == "val"
    assert report["oos_thresholds"]["oos_recall"] >= 0.8  # reached on val
    assert report["in_scope_accuracy"] >= 0.6 and report["oos_recall"] >= 0.6  # on test, the same run
    # val without out_of_scope rows: a clear error naming the file
    bad = write("bad_val.csv", VAL_IN)
    assert fancare(["test", "nlu", "--config", str(cfg), "--train", str(train), "--val", str(bad),
                    "--data", str(test), "--out", str(out)]) == 2


def test_two_requests_in_one_message_are_a_ranked_set(model: NLUModel) -> None:
    r = model.parse("where is my order and can I pay with klarna?")
    names = [n for n, _ in r.intents]
    assert names == ["order_status", "payment_methods"]  # in the order written (nlu/clauses.py)
    assert not r.fallback and r.intent == names[0]  # understood: both clauses are clear
    assert [n for n, _ in r.ranking[:2]] and r.ranking[0][1] >= r.ranking[1][1]  # `ranking` is kept as it was
    d = r.as_dict()
    assert d["intents"][0]["name"] == names[0] and "intent_ranking" in d
    one = model.parse("where is my order")
    assert one.intents == [("order_status", one.confidence)]


async def test_the_serving_path_ranks_two_requests_too(model: NLUModel) -> None:
    from nlu.service import NLUService

    svc = NLUService(model)
    r = await svc.parse("where is my order and can I pay with klarna?")
    assert {n for n, _ in r.intents} == {"order_status", "payment_methods"}
    single = await svc.parse("can I pay with klarna")
    assert [n for n, _ in single.intents] == ["payment_methods"]
