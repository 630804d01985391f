from __future__ import annotations

import pytest

from nlu.readers import load_training_data, read_csv, read_rasa_yaml, to_rasa_yaml
from nlu.validate import validate
from nlu.yamlfile import DataError

RASA = '''version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is [VT-123456](order_number)?
    - status of my [buds pro]{"entity": "product", "value": "Voltora Buds Pro"} order
    - track my order
- intent: greet
  examples: |
    - hi
    - hello
- synonym: Voltora Arc
  examples: |
    - the arc
- regex: order_number
  examples: |
    - \\bVT-?\\d{6}\\b
- lookup: product
  examples: |
    - Voltora Arc
'''


def test_reads_rasa_yaml_with_annotations(tmp_path):
    p = tmp_path / "nlu.yml"
    p.write_text(RASA)
    td = read_rasa_yaml(p)
    ex = td.examples[0]
    assert ex.text == "where is VT-123456?" and ex.line == 5
    assert ex.entities[0].entity == "order_number" and ex.text[ex.entities[0].start:ex.entities[0].end] == "VT-123456"
    assert td.examples[1].entities[0].value == "Voltora Buds Pro"
    assert td.synonyms["buds pro"] == "Voltora Buds Pro" and td.synonyms["the arc"] == "Voltora Arc"
    assert td.regexes["order_number"] and td.lookups["product"] == ["Voltora Arc"]


def test_roundtrip_through_rasa_yaml_is_stable(tmp_path):
    p = tmp_path / "nlu.yml"
    p.write_text(RASA)
    td = read_rasa_yaml(p)
    out = tmp_path / "out.yml"
    out.write_text(to_rasa_yaml(td))
    again = read_rasa_yaml(out)
    assert sorted((e.text, e.intent, e.entities[:1] and e.entities[0].value) for e in td.examples) == \
        sorted((e.text, e.intent, e.entities[:1] and e.entities[0].value) for e in again.examples)
    assert to_rasa_yaml(again) == out.read_text()


@pytest.mark.parametrize("column", ["intent", "label", "category"])
def test_reads_csv_with_any_label_column(tmp_path, column):
    p = tmp_path / "d.csv"
    p.write_text(f"text,{column}\nhello,greet\n\"where, is it\",order_status\n")
    td = read_csv(p)
    assert [(e.text, e.intent) for e in td.examples] == [("hello", "greet"), ("where, is it", "order_status")]


def test_csv_errors_name_line_and_column(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("text,intent\nhello,greet\n,greet\n")
    with pytest.raises(DataError) as e:
        read_csv(p)
    assert e.value.line == 3 and e.value.key == "text"
    p.write_text("sentence,intent\nhello,greet\n")
    with pytest.raises(DataError, match="text"):
        read_csv(p)


def test_yaml_errors_name_file_line_and_key(tmp_path):
    p = tmp_path / "nlu.yml"
    p.write_text("nlu:\n- intent: greet\n  exmples: |\n    - hi\n")
    with pytest.raises(DataError) as e:
        read_rasa_yaml(p)
    assert e.value.line == 3 and "exmples" in e.value.key
    p.write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n    hello\n")
    with pytest.raises(DataError) as e:
        read_rasa_yaml(p)
    assert e.value.line == 5
    p.write_text("nlu:\n- regex: x\n  examples: |\n    - ([a-\n")
    with pytest.raises(DataError, match="regular expression"):
        read_rasa_yaml(p)


def test_validate_finds_conflicts_few_examples_and_unknown_entities(tmp_path):
    p = tmp_path / "nlu.yml"
    p.write_text("nlu:\n- intent: a\n  examples: |\n    - same text\n    - [x](ghost)\n"
                 "- intent: b\n  examples: |\n    - Same Text\n")
    td = load_training_data([p])
    problems = validate(td, min_examples=2, known_entities={"product"})
    msgs = [pr.describe() for pr in problems if pr.level == "error"]
    assert any("several intents" in m for m in msgs)
    assert any("intent has 1 example" in m for m in msgs)
    assert any("unknown entity 'ghost'" in m and ":5" in m for m in msgs)


def test_demo_training_data_is_valid():
    from dialogs.domain import Domain

    td = load_training_data(["training_data"])
    known = set(Domain.load("dialogs/domain.yml").entities)
    errors = [p for p in validate(td, min_examples=5, known_entities=known) if p.level == "error"]
    assert errors == []
    required = {"greet", "goodbye", "thanks", "faq", "order_status", "refund_request", "complaint", "human_handoff",
                "giveaway_enter", "poll_vote", "praise", "crisis", "spam", "abuse", "out_of_scope"}
    assert required <= set(td.intents)
