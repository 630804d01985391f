"""Import a Rasa 3.x project and export fancare's data back as one (round trip through the CLI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bot.cli import main
from dialogs.domain import Domain
from dialogs.policy import DialogPolicy, Turn
from nlu.model import ParseResult
from nlu.rasa_project import read_project
from nlu.readers import load_training_data, read_rasa_yaml
from tests.conftest import REPO, write_config

NLU = """version: "3.1"
nlu:
- intent: ask_opening_hours
  examples: |
    - when are you open
    - what are your opening hours
    - are you open on sunday
    - what time do you close
    - opening times please
- intent: order_status
  examples: |
    - where is order [VT-123456](order_number)
    - track my parcel
- synonym: VT-123456
  examples: |
    - vt123456
- regex: order_number
  examples: |
    - VT-?\\d{6}
- lookup: product
  examples: |
    - Pulse 3
    - Arc
"""
RULES = """version: "3.1"
rules:
- rule: opening hours
  steps:
  - intent: ask_opening_hours
  - action: utter_opening_hours
- rule: with a condition
  condition:
  - active_loop: null
  steps:
  - intent: order_status
  - action: action_check_order
stories:
- story: s1
  steps:
  - intent: greet
"""
DOMAIN = """version: "3.1"
intents: [ask_opening_hours, order_status]
entities: [order_number, product]
responses:
  utter_opening_hours:
  - text: "We're open 9 to 5, Monday to Friday."
  utter_greet:
  - text: "Rasa greeting that must not replace ours"
  utter_fancy:
  - custom: {kind: carousel}
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "rasa"
    (root / "data").mkdir(parents=True)
    (root / "data" / "nlu.yml").write_text(NLU)
    (root / "data" / "rules.yml").write_text(RULES)
    (root / "domain.yml").write_text(DOMAIN)
    return root


async def test_import_then_serve_a_simple_rule_then_export(tmp_path, model_dir, capsys):
    data = tmp_path / "training_data"
    data.mkdir()
    shutil.copy(REPO / "training_data" / "nlu.yml", data / "nlu.yml")
    domain = tmp_path / "dialogs" / "domain.yml"
    domain.parent.mkdir()
    shutil.copy(REPO / "dialogs" / "domain.yml", domain)
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", model_dir,
                       nlu={"training_data": [str(data)], "model_dir": str(model_dir)},
                       dialogs={"domain": str(domain)})
    # the imported examples join the existing ones and validate (exit code 0)
    assert main(["data", "import-rasa", str(_project(tmp_path)), "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "imported 7 examples, 2 intents, 1 synonyms, 1 regexes, 1 lookups" in out
    assert "skipped: rule 'with a condition' (rules.yml): not simple" in out and "1 stories" in out and "utter_fancy" in out
    imported = read_rasa_yaml(data / "rasa_import.yml")
    assert imported.regexes == {"order_number": ["VT-?\\d{6}"]} and imported.lookups["product"] == ["Arc", "Pulse 3"]
    assert imported.synonyms == {"vt123456": "VT-123456"}
    ent = next(e for e in imported.examples if e.text == "where is order VT-123456")
    assert ent.entities[0].entity == "order_number"
    new_domain = Domain.load(domain.with_name("domain.rasa.yml"))
    assert new_domain.render("utter_greet").text.startswith(("Hi", "Hello", "¡Hola", "Hallo", "Bonjour"))
    assert "utter_handoff" in new_domain.responses  # ours are all kept
    # the simple rule is served: an intent with no flow answers with utter_<intent>
    policy = DialogPolicy(new_domain, None, None)  # type: ignore[arg-type]
    parse = ParseResult("when are you open", "ask_opening_hours", 0.93, False, [("ask_opening_hours", 0.93)], [],
                        "en", None, "v")
    decision = await policy.decide(parse, {}, Turn(1, "when are you open"))
    assert decision.replies[0].text == "We're open 9 to 5, Monday to Friday."

    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", model_dir,  # serve the imported domain
                       nlu={"training_data": [str(data)], "model_dir": str(model_dir)},
                       dialogs={"domain": str(domain.with_name("domain.rasa.yml"))})
    out_dir = tmp_path / "export"
    assert main(["data", "export-rasa", str(out_dir), "--config", str(cfg)]) == 0
    back = read_project(out_dir)
    here = load_training_data([data])
    assert len(back.data.examples) == len(here.examples) and back.data.intents == here.intents
    assert back.data.regexes == here.regexes
    assert back.rules["greet"] == "utter_greet" and back.rules["ask_opening_hours"] == "utter_ask_opening_hours"
    exported = yaml.safe_load((out_dir / "domain.yml").read_text())
    assert all("language" not in v for vs in exported["responses"].values() for v in vs)
