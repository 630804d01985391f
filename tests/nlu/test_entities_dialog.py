"""Entities reach the dialog: a flow that collects `product`, `date` and `amount` with
`validate: {entity: ...}` is filled from what the real extractor finds in the fan's first message."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from dialogs.actions import ActionRegistry
from dialogs.domain import Domain
from dialogs.flows import load_flows
from dialogs.policy import DialogPolicy, Turn
from nlu.entities import EntityExtractor
from nlu.model import ParseResult
from nlu.readers import load_training_data

DOMAIN = """\
version: "3.1"
responses:
  utter_ask_product: [{text: "Which product?"}]
  utter_ask_purchase_date: [{text: "When did you buy it?"}]
  utter_ask_price: [{text: "How much was it?"}]
  utter_refund_noted: [{text: "Refund for {product} bought {purchase_date}: {price}."}]
  utter_anything_else: [{text: "Anything else?"}]
  utter_default: [{text: "Say again?"}]
"""

FLOWS = """\
version: "1"
slots:
  product: {type: text}
  purchase_date: {type: text}
  price: {type: text}
flows:
  refund:
    description: A refund with the product, the purchase date and the price.
    nlu_trigger: [{intent: refund_request}]
    steps:
      - collect: product
        validate: {entity: product}
      - collect: purchase_date
        validate: {entity: date}
      - collect: price
        validate: {entity: amount}
      - action: utter_refund_noted
"""


def test_product_date_and_amount_prefill_a_flow(tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (tmp_path / "flows.yml").write_text(FLOWS, encoding="utf-8")
    domain = Domain.load(tmp_path / "domain.yml")
    flows = load_flows([tmp_path / "flows.yml"], responses=set(domain.responses), actions=set())
    policy = DialogPolicy(domain, None, None, flows=flows, actions=ActionRegistry())
    extractor = EntityExtractor.from_training_data(load_training_data(["training_data"]))

    text = "refund pls, my budz pro cost €129.99 and i bought them 2 weeks ago"
    ents = [e.as_dict() for e in extractor.extract(text, "en", date(2026, 6, 17))]
    parse = ParseResult(text, "refund_request", 0.95, False, [("refund_request", 0.95)], ents, "en", "e5", "test")


    d = asyncio.run(policy.decide(parse, {}, Turn(1, text, "Sam")))
    state = json.loads(json.dumps(d.state))
    assert d.replies[0].text.startswith("Refund for Voltora Buds Pro bought 2026-06-03: 129.99 EUR.")
    assert state["slots"] == {"product": "Voltora Buds Pro", "purchase_date": "2026-06-03", "price": "129.99 EUR"}


def test_a_missing_entity_is_asked_for(tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (tmp_path / "flows.yml").write_text(FLOWS, encoding="utf-8")
    domain = Domain.load(tmp_path / "domain.yml")
    flows = load_flows([tmp_path / "flows.yml"], responses=set(domain.responses), actions=set())
    policy = DialogPolicy(domain, None, None, flows=flows, actions=ActionRegistry())
    extractor = EntityExtractor.from_training_data(load_training_data(["training_data"]))
    text = "my pulse is fast and i want a refund"  # no product here: "pulse" is an ordinary word
    ents = [e.as_dict() for e in extractor.extract(text, "en", date(2026, 6, 17))]
    parse = ParseResult(text, "refund_request", 0.95, False, [("refund_request", 0.95)], ents, "en", "e5", "test")


    d = asyncio.run(policy.decide(parse, {}, Turn(1, text, "Sam")))
    assert [r.response for r in d.replies] == ["utter_ask_product"]
