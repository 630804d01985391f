"""Labels written back into the training data: stable order, no duplicates, never one example under
two intents, new intents wait for enough examples, and a write that would not validate is undone."""

from __future__ import annotations

from pathlib import Path

from nlu.readers import load_training_data, read_rasa_yaml
from nlu.review import PENDING, REVIEWED, write_labels
from nlu.validate import validate

BASE = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey
    - good morning
    - hiya
- intent: order_status
  examples: |
    - where is my order
    - has my parcel shipped
    - track my package
    - when will my order arrive
    - order status please
"""


def _dir(tmp_path: Path) -> Path:
    d = tmp_path / "training_data"
    d.mkdir()
    (d / "nlu.yml").write_text(BASE)
    return d


def test_labels_are_sorted_deduplicated_and_never_under_two_intents(tmp_path):
    d = _dir(tmp_path)
    res = write_labels(d, [("wheres my stuff", "order_status"), ("Hello", "greet"), ("hey", "order_status"),
                           ("yo yo", "greet"), ("any news on my delivery", "order_status")])
    assert res.ok, res.problems
    assert res.duplicates == [("Hello", "greet")]  # already in nlu.yml under greet
    assert res.conflicts == [("hey", "order_status", "greet in nlu.yml:7")]
    assert sorted(res.added) == [("any news on my delivery", "order_status"), ("wheres my stuff", "order_status"),
                                 ("yo yo", "greet")]
    text = (d / REVIEWED).read_text()
    assert text == ('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - yo yo\n'
                    "- intent: order_status\n  examples: |\n    - any news on my delivery\n    - wheres my stuff\n")
    # relabelling moves the example; writing the same labels again changes nothing
    res = write_labels(d, [("wheres my stuff", "greet")])
    assert res.moved == [("wheres my stuff", "order_status", "greet")]
    again = (d / REVIEWED).read_text()
    assert write_labels(d, [("wheres my stuff", "greet")]).duplicates and (d / REVIEWED).read_text() == again
    td = load_training_data([d])
    assert not [p for p in validate(td) if p.level == "error"]
    owners: dict[str, set[str]] = {}
    for ex in td.examples:
        owners.setdefault(ex.text.casefold(), set()).add(ex.intent)
    assert all(len(v) == 1 for v in owners.values())


def test_new_intent_waits_until_it_has_enough_examples(tmp_path):
    d = _dir(tmp_path)
    res = write_labels(d, [("how long does the battery last", "battery_life")], min_examples=3)
    assert res.waiting == {"battery_life": 1} and not (d / REVIEWED).exists()
    assert "battery_life" not in load_training_data([d]).intents  # training does not see it yet
    res = write_labels(d, [("battery life of the arc", "battery_life"), ("how many hours on a charge", "battery_life")],
                       min_examples=3)
    assert res.promoted == ["battery_life"] and not (d / PENDING).exists()
    assert sorted(e.text for e in read_rasa_yaml(d / REVIEWED).examples) == [
        "battery life of the arc", "how long does the battery last", "how many hours on a charge"]
    assert "battery_life" in load_training_data([d]).intents


def test_a_write_that_does_not_validate_is_undone(tmp_path):
    d = _dir(tmp_path)
    write_labels(d, [("wheres my stuff", "order_status")])
    before = (d / REVIEWED).read_text()
    res = write_labels(d, [("order [VT-123456](order_number) please", "order_status")], known_entities=set())
    assert not res.ok and "unknown entity" in res.problems[0].message
    assert (d / REVIEWED).read_text() == before
