"""A Rasa 3 project's forms and rules become fancare flows; what cannot be translated is listed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from dialogs.rasa_flows import dump_flows, flows_from_rasa
from nlu.yamlfile import DataError
from tests.conftest import write_config

DOMAIN = """version: "3.1"
intents: [greet, warranty_claim, ask_opening_hours, affirm, deny, chitchat, bot_challenge, inform]
entities: [serial_number]
slots:
  serial_number:
    type: text
    mappings:
    - type: from_entity
      entity: serial_number
  purchase_date:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: warranty_form
        requested_slot: purchase_date
  fault:
    type: categorical
    values: [battery, screen, charging]
    mappings:
    - type: from_text
      conditions:
      - active_loop: warranty_form
        requested_slot: fault
  wants_repair:
    type: bool
    mappings:
    - type: from_intent
      intent: affirm
      value: true
    - type: from_intent
      intent: deny
      value: false
  favourite_colours:
    type: list
    mappings:
    - type: custom
forms:
  warranty_form:
    required_slots: [serial_number, purchase_date, fault, wants_repair]
responses:
  utter_greet:
  - text: Hi!
  utter_ask_serial_number:
  - text: What's the serial number?
  utter_ask_warranty_form_purchase_date:
  - text: When did you buy it?
  utter_ask_purchase_date:
  - text: Purchase date?
  utter_ask_fault:
  - text: What's wrong with it?
  utter_ask_wants_repair:
  - text: Shall we repair it?
  utter_warranty_submitted:
  - text: Thanks, your claim is registered.
  utter_opening_hours:
  - text: We're open 9 to 5.
  utter_iamabot:
  - text: I am a bot.
  utter_chitchat:
  - text: Nice weather.
actions:
- validate_warranty_form
- action_submit_warranty
- action_hello_world
"""
RULES = """version: "3.1"
rules:
- rule: activate warranty form
  steps:
  - intent: warranty_claim
  - action: warranty_form
  - active_loop: warranty_form
- rule: submit warranty form
  condition:
  - active_loop: warranty_form
  steps:
  - action: warranty_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: action_submit_warranty
  - action: utter_warranty_submitted
- rule: opening hours
  steps:
  - intent: ask_opening_hours
  - action: utter_opening_hours
- rule: bot challenge only outside forms
  condition:
  - active_loop: null
  steps:
  - intent: bot_challenge
  - action: utter_iamabot
- rule: greet and keep going
  steps:
  - intent: greet
  - action: utter_greet
  wait_for_user_input: false
- rule: chitchat in the form
  condition:
  - active_loop: warranty_form
  steps:
  - intent: chitchat
  - action: utter_chitchat
  - action: warranty_form
  - active_loop: warranty_form
- rule: repair wanted
  steps:
  - intent: inform
  - slot_was_set:
    - wants_repair: true
  - action: utter_greet
"""
STORIES = """version: "3.1"
stories:
- story: happy path
  steps:
  - intent: greet
  - action: utter_greet
  - intent: warranty_claim
  - action: warranty_form
  - active_loop: warranty_form
"""
NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey there
    - good morning
    - hiya
- intent: warranty_claim
  examples: |
    - my device is broken, serial [AB12345678](serial_number)
    - I want to make a warranty claim
    - is my speaker still under warranty
    - warranty claim please
    - it stopped working, I want it fixed under warranty
- intent: ask_opening_hours
  examples: |
    - when are you open
    - what are your opening hours
    - are you open on sunday
    - what time do you close
    - opening times please
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "rasa"
    (root / "data").mkdir(parents=True)
    (root / "domain.yml").write_text(DOMAIN)
    (root / "data" / "rules.yml").write_text(RULES)
    (root / "data" / "stories.yml").write_text(STORIES)
    (root / "data" / "nlu.yml").write_text(NLU)
    return root


def test_a_form_and_its_rules_become_one_flow(tmp_path):
    doc, notes = flows_from_rasa(_project(tmp_path))
    assert list(doc) == ["version", "slots", "flows"]
    assert list(doc["flows"]) == ["ask_opening_hours", "warranty_form"]  # sorted by id
    flow = doc["flows"]["warranty_form"]
    assert flow["nlu_trigger"] == [{"intent": "warranty_claim"}]
    assert "warranty_form" in flow["description"]
    steps = flow["steps"]
    assert [s.get("collect") for s in steps[:4]] == ["serial_number", "purchase_date", "fault", "wants_repair"]
    serial, date, fault, repair = steps[:4]
    assert serial == {"collect": "serial_number", "utter": "utter_ask_serial_number",
                      "validate": {"entity": "serial_number"}}
    assert date == {"collect": "purchase_date", "utter": "utter_ask_warranty_form_purchase_date"}  # any text
    assert fault["validate"] == {"lookup": ["battery", "screen", "charging"]}
    assert repair["validate"] == {"choices": [{"title": "Yes", "value": True}, {"title": "No", "value": False}]}
    # the validation action right after the collects, then what the submit rule runs
    assert steps[4:] == [{"action": "validate_warranty_form"}, {"action": "action_submit_warranty"},
                         {"action": "utter_warranty_submitted"}]
    assert doc["slots"] == {"fault": {"type": "categorical", "values": ["battery", "screen", "charging"]},
                            "purchase_date": {"type": "text"}, "serial_number": {"type": "text"},
                            "wants_repair": {"type": "bool"}}
    # the simple rule is a flow of its own
    assert doc["flows"]["ask_opening_hours"] == {
        "description": "Imported from the Rasa rule 'opening hours'.",
        "nlu_trigger": [{"intent": "ask_opening_hours"}], "steps": [{"action": "utter_opening_hours"}]}
    text = "\n".join(notes)
    assert "rule 'bot challenge only outside forms' (rules.yml): not simple (has a condition)" in text
    assert "rule 'greet and keep going' (rules.yml): not simple (wait_for_user_input: false)" in text
    assert "rule 'repair wanted' (rules.yml): not simple (checks slots (slot_was_set))" in text
    assert "rule 'chitchat in the form' (rules.yml): not simple (handles a message while warranty_form runs" in text
    assert "1 stories (stories.yml): stories are not translated; write flows" in notes
    assert "validate_warranty_form runs once after all slots are collected" in text
    assert "from_intent mappings became choices (Yes, No)" in text
    assert "custom actions action_submit_warranty, validate_warranty_form (domain.yml): their code is not translated" in text
    assert "custom actions action_hello_world (domain.yml): no imported flow calls them" in text
    assert "slots favourite_colours (domain.yml): no imported flow uses them" in text
    # translated rules are not listed
    assert "activate warranty form" not in text and "submit warranty form" not in text
    assert "opening hours" not in text


def test_yaml_output_is_block_style_and_stable(tmp_path):
    root = _project(tmp_path)
    doc, _ = flows_from_rasa(root)
    out = dump_flows(doc, "rasa")
    assert out.startswith("# Flows imported from a Rasa project (rasa)")
    assert "{" not in out and out == dump_flows(flows_from_rasa(root)[0], "rasa")
    assert yaml.safe_load(out) == doc
    assert out.index("ask_opening_hours:") < out.index("warranty_form:")
    assert out.index("      - collect: serial_number\n        utter: utter_ask_serial_number") > 0


def test_mapping_variants(tmp_path):
    """Rasa 2 style forms (mappings under required_slots), from_trigger_intent, from_intent with string values,
    list slots, activation and submission in one rule, a form nothing starts, an unknown entity."""
    root = tmp_path / "rasa"
    (root / "data").mkdir(parents=True)
    (root / "domain.yml").write_text("""version: "3.1"
slots:
  topic: {type: text, initial_value: general}
  size: {type: float}
  tags: {type: list}
  plan:
    type: text
    mappings:
    - {type: from_intent, intent: choose_basic, value: basic}
    - {type: from_intent, intent: choose_premium, value: premium}
  email: {type: text, mappings: [{type: from_entity, entity: email, role: work}]}
forms:
  signup_form:
    ignored_intents: [chitchat]
    required_slots:
      topic:
      - {type: from_trigger_intent, intent: signup, value: news}
      - {type: from_text}
      size:
      - {type: from_text}
      tags:
      - {type: custom, action: action_extract_tags}
      plan: []
  survey_form:
    required_slots: [email]
responses:
  utter_ask_topic: [{text: "Topic?"}]
  utter_ask_size: [{text: "Size?"}]
  utter_ask_plan: [{text: "Plan?"}]
  utter_done: [{text: Done.}]
actions: [action_ask_email]
""")
    (root / "data" / "rules.yml").write_text("""version: "3.1"
rules:
- rule: sign up in one go
  steps:
  - intent: signup
  - action: signup_form
  - active_loop: signup_form
  - active_loop: null
  - action: utter_done
- rule: two intents
  steps:
  - or:
    - intent: a
    - intent: b
  - action: utter_done
- rule: restart
  steps:
  - intent: restart
  - action: action_restart
""")
    doc, notes = flows_from_rasa(root)
    signup = doc["flows"]["signup_form"]
    assert signup["nlu_trigger"] == [{"intent": "signup"}]
    assert signup["steps"][0] == {"set_slots": [{"topic": "news"}]}
    assert signup["steps"][1] == {"collect": "topic", "utter": "utter_ask_topic"}
    assert signup["steps"][2]["validate"] == {"regex": r"(-?\d+(?:[.,]\d+)?)"}
    assert signup["steps"][3] == {"collect": "tags", "utter": "utter_ask_tags"}
    assert signup["steps"][-1] == {"action": "utter_done"}
    survey = doc["flows"]["survey_form"]
    assert "nlu_trigger" not in survey and survey["steps"] == [
        {"collect": "email", "utter": "utter_ask_email", "validate": {"entity": "email"}}]
    assert doc["slots"]["tags"] == {"type": "any"} and doc["slots"]["size"] == {"type": "float"}
    text = "\n".join(notes)
    assert "form signup_form (domain.yml): ignored_intents is not translated" in text
    assert "slot topic (domain.yml): initial_value 'general' is not translated" in text
    assert "slot tags (domain.yml): type list has no fancare equivalent; declared as any" in text
    assert "slot tags (domain.yml): custom mappings" in text
    assert "no response utter_ask_tags in the domain" in text
    assert "slot email is asked by the custom action action_ask_email (not translated) and has no response" in text
    assert "slot plan (domain.yml): no mappings signup_form uses" in text
    assert "slot email (domain.yml): the from_entity mapping's role restriction is not translated" in text
    assert "entity email has no regex, lookup or annotated example" in text
    assert "form survey_form (domain.yml): no rule starts it" in text
    assert "rule 'two intents' (rules.yml): not simple (several intents (or:))" in text
    assert "rule 'restart' (rules.yml): not simple (uses Rasa's built-in action_restart" in text
    # plan's from_intent mappings with string values, in a Rasa 3 form
    (root / "domain.yml").write_text((root / "domain.yml").read_text().replace(
        "  survey_form:\n    required_slots: [email]", "  survey_form:\n    required_slots: [email, plan]"))
    doc, _ = flows_from_rasa(root)
    plan = doc["flows"]["survey_form"]["steps"][1]
    assert plan["validate"] == {"choices": [{"title": "basic", "value": "basic"},
                                            {"title": "premium", "value": "premium"}]}


def test_not_a_rasa_project(tmp_path):
    with pytest.raises(DataError):
        flows_from_rasa(tmp_path)


def test_cli_writes_flows_next_to_the_domain_and_lists_what_was_not_translated(tmp_path, capsys):
    data = tmp_path / "training_data"
    data.mkdir()
    domain = tmp_path / "dialogs" / "domain.yml"
    domain.parent.mkdir()
    domain.write_text('version: "3.1"\nresponses:\n  utter_handoff:\n  - text: A person will take over.\n')
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", tmp_path / "models",
                       nlu={"training_data": [str(data)]}, dialogs={"domain": str(domain)})
    assert main(["data", "import-rasa", str(_project(tmp_path)), "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    flows_file = domain.with_name("flows.rasa.yml")
    assert f"imported 2 flows and 4 slots from forms and rules -> {flows_file}" in out
    written = yaml.safe_load(flows_file.read_text())
    assert written == flows_from_rasa(tmp_path / "rasa")[0]
    assert (data / "rasa_import.yml").exists() and domain.with_name("domain.rasa.yml").exists()
    # the list comes last, with a count, and says nothing twice
    tail = out[out.index("not translated ("):]
    lines = [line for line in tail.splitlines()[1:] if line]
    assert tail.startswith(f"not translated ({len(lines)}):") and all(x.startswith("skipped: ") for x in lines)
    assert "skipped: rule 'bot challenge only outside forms' (rules.yml): not simple" in tail
    assert "skipped: 1 stories (stories.yml): stories are not translated; write flows" in tail
    assert "domain forms" not in out and "rule 'activate warranty form'" not in out
    assert len(set(lines)) == len(lines)
    # --flows-out elsewhere
    other = tmp_path / "elsewhere" / "flows.yml"
    assert main(["data", "import-rasa", str(tmp_path / "rasa"), "--config", str(cfg), "--flows-out", str(other)]) == 0
    assert yaml.safe_load(other.read_text()) == written


def test_imported_flows_load_with_the_flow_loader(tmp_path, capsys):
    from dialogs.domain import Domain
    from dialogs.flows import load_flows
    from nlu.readers import load_training_data

    data = tmp_path / "training_data"
    data.mkdir()
    domain = tmp_path / "dialogs" / "domain.yml"
    domain.parent.mkdir()
    domain.write_text('version: "3.1"\nresponses:\n  utter_handoff:\n  - text: A person will take over.\n')
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", tmp_path / "models",
                       nlu={"training_data": [str(data)]}, dialogs={"domain": str(domain)})
    assert main(["data", "import-rasa", str(_project(tmp_path)), "--config", str(cfg)]) == 0
    responses = set(Domain.load(domain.with_name("domain.rasa.yml")).responses)
    intents = set(load_training_data([data]).intents)
    # the custom actions run on the Rasa action server (remote_actions); strict: the first problem raises
    fs = load_flows([domain.with_name("flows.rasa.yml")], responses=responses, actions=set(), remote_actions=True,
                    intents=intents)
    assert set(fs.flows) == {"ask_opening_hours", "warranty_form"}
    assert [s.slot for s in fs.flows["warranty_form"].collects()] == [
        "serial_number", "purchase_date", "fault", "wants_repair"]
    assert fs.for_intent("warranty_claim") is fs.flows["warranty_form"]
