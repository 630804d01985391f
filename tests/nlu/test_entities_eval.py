"""Entity scores of `fancare test nlu` on a tiny annotated file whose numbers are counted by hand."""

from __future__ import annotations

import pytest

from nlu.entities import EntityExtractor
from nlu.entity_eval import evaluate_entities, format_entity_table, reference_dates, score_entities
from nlu.readers import load_training_data
from nlu.training_data import EntitySpan
from nlu.yamlfile import DataError

TINY = """\
version: "3.1"
nlu:
- intent: order_status
  metadata: {reference_date: 2026-06-17}
  examples: |
    - my [budz pro](product:Voltora Buds Pro) from [yesterday](date:2026-06-16)
    - paid [€49.99](amount:49.99 EUR) on the [3rd](date:2026-06-03)
    - order [VT-482913](order_number) for the [halo](product:Voltora Halo)
    - my pulse is fast
- intent: complaint
  examples: |
    - my [budz pro](product:Voltora Buds Pro) again
    - mi [arc](product:Voltora Arc) sounds like the dock of the bay
"""


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor.from_training_data(load_training_data(["training_data"]))


def test_entity_scores_on_a_tiny_file(tmp_path, extractor):
    path = tmp_path / "tiny.yml"
    path.write_text(TINY)
    td = load_training_data([path])
    report, errors = evaluate_entities(extractor, td)
    s = report["strict"]["per_entity"]
    # "halo" after "the" is a product (article cue); so is the "dock" of the bay (spurious), while
    # "mi arc" is missed (a bare ordinary word after a possessive): 3 of 4 found, 3 of 4 right.
    assert s["product"] == {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4, "predicted": 4}
    assert s["date"]["support"] == 2 and s["date"]["f1"] == 1.0
    assert s["amount"]["f1"] == 1.0 and s["order_number"]["f1"] == 1.0
    assert report["strict"]["micro"] == {"precision": 0.875, "recall": 0.875, "f1": 0.875, "support": 8,
                                         "predicted": 8}
    assert report["n_messages"] == 6
    assert [(e["missed"], e["spurious"]) for e in errors] == [
        (["product: 'arc' = 'Voltora Arc'"], ["product: 'dock' = 'Voltora Dock'"])]
    table = format_entity_table(report)
    assert "product" in table and "micro avg" in table and "8 annotated in 6 messages" in table


def test_examples_without_reference_date_use_today(tmp_path, extractor):
    path = tmp_path / "tiny.yml"
    path.write_text(TINY)
    refs = reference_dates([str(path)])
    lines = sorted(line for (_, line) in refs)
    assert lines[0] <= 6 and lines[-1] < 10  # the first item's examples only


def test_strict_and_value_only_counts():
    true = [[EntitySpan(3, 11, "product", "Voltora Buds Pro", "budz pro"), EntitySpan(20, 23, "date", "2026-06-03", "3rd")]]
    pred = [[{"entity": "product", "value": "voltora buds pro", "start": 3, "end": 11},   # right (case-insensitive)
             {"entity": "date", "value": "2026-06-03", "start": 16, "end": 23},           # wrong span, right value
             {"entity": "amount", "value": "20.00 USD", "start": 30, "end": 33}]]          # spurious
    r = score_entities(true, pred)
    assert r["strict"]["per_entity"]["product"]["f1"] == 1.0
    assert r["strict"]["per_entity"]["date"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1,
                                                 "predicted": 1}
    assert r["value"]["per_entity"]["date"]["f1"] == 1.0
    assert r["strict"]["per_entity"]["amount"]["precision"] == 0.0
    assert r["strict"]["micro"] == {"precision": 0.3333, "recall": 0.5, "f1": 0.4, "support": 2, "predicted": 3}
    assert r["strict"]["macro_f1"] == 0.5  # product 1.0, date 0.0; amount has no support


def test_a_bad_reference_date_names_file_and_key(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(TINY.replace("2026-06-17", "last week"))
    with pytest.raises(DataError, match="reference_date"):
        reference_dates([str(path)])
