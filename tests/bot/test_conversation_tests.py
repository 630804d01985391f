"""`fancare test conversations`: YAML conversation tests run through the real pipeline, their reports
(table, first-wrong-step diff, results.json, junit.xml) and their exit codes."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.conversation_tests import (
    ANY,
    format_failure,
    load_conversation_file,
    load_conversations,
    run_conversations,
    write_reports,
)
from nlu.yamlfile import DataError
from tests.conftest import write_config

PASSING = """\
conversations:
  - name: greet
    language: en
    steps:
      - user: "hi"
      - utter: utter_greet
      - bot: "Alex"
      - not_escalated: true

  - name: order status with the number in the first message
    language: en
    steps:
      - user: "where is my order VT-482913"
      - bot: "email address or postcode"
      - bot_not: "shipped"
      - user: "maya.lopez@example.com"
      - bot: "Order VT-482913"
      - bot_not: "ticket"
      - slot_was_set: {order_number: VT-482913}

  - name: refund collects the order number and escalates
    display_name: Sam
    steps:
      - user: "I want a refund"
      - bot: "order number"
      - slot_was_not_set: [order_number]
      - user: "VT-100200"
      - bot: "email address or postcode"
      - user: "SW1A 1AA"
      - bot: ["refund request for order VT-100200", "ticket #1"]
      - escalated: refunds
      - slot_was_set: [order_number]

  - name: human handoff, operator claim, reply and resolve, then a rating
    language: en
    steps:
      - user: "I want to talk to a person"
      - bot: "ticket #1"
      - escalated: {queue: general, state: open}
      - operator: {claim: true, as: dana}
      - operator: {reply: "Hi Alex, Dana here.", as: dana}
      - bot: "Dana here"
      - operator: {resolve: true, as: dana}
      - utter: utter_ask_csat
      - buttons: ["1", "2", "3", "4", "5"]
      - button: "4"
      - bot: "Thanks for your rating"
      - not_escalated: true
"""

FAILING = """\
conversations:
  - name: expects a greeting after an order question
    language: en
    steps:
      - user: "where is my order VT-482913"
      - bot: "email address or postcode"
      - utter: utter_greet
      - escalated: refunds
  - name: claims a ticket nobody opened
    steps:
      - user: "hi"
      - operator: {claim: true}
"""
FIRST_WRONG_LINE = 7  # `- utter: utter_greet` above


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def conv_app(tmp_path: Path, model_dir: Path, nlu_model: Any) -> Iterator[Any]:
    from bot.app import App
    from bot.config import load_config

    cfg = load_config(write_config(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", model_dir))
    app = App(cfg, model=nlu_model)
    yield app
    app.close()


# -- the file format ------------------------------------------------------------------------------------
def test_loads_conversations_with_lines_defaults_and_rasa_key_names(tmp_path):
    path = write(tmp_path, "a.yml", PASSING)
    cases = load_conversation_file(path)
    assert [c.name for c in cases][:2] == ["greet", "order status with the number in the first message"]
    greet, order, refund, handoff = cases
    assert (greet.file, greet.line, greet.language, greet.display_name) == (str(path), 2, "en", "Alex")
    assert greet.user_id.startswith("fan-greet-") and greet.user_id != order.user_id
    assert [(s.key, s.line, s.index) for s in greet.steps] == [("user", 5, 1), ("utter", 6, 2), ("bot", 7, 3),
                                                               ("not_escalated", 8, 4)]
    assert order.steps[6].value == [("order_number", "VT-482913")]
    assert refund.display_name == "Sam" and refund.language is None and refund.turns == 3
    assert refund.steps[2].value == [("order_number", ANY)]
    assert handoff.steps[3].value == {"do": "claim", "as": "dana"}
    assert handoff.steps[2].value == {"queue": "general", "state": "open"}
    # Rasa's names: `test_cases` and `test_case`; folders are searched recursively for *.yml / *.yaml
    write(tmp_path / "sub", "b.yaml", """\
        test_cases:
          - test_case: rasa style
            steps:
              - user: hello
              - utter: utter_greet
        """)
    (tmp_path / "sub" / "notes.txt").write_text("not a test")
    found = load_conversations([tmp_path])
    assert [c.name for c in found][-1] == "rasa style" and len(found) == 5


@pytest.mark.parametrize(("text", "line", "key", "words"), [
    ("conversations:\n  - name: x\n    steps:\n      - user: hi\n      - reply: hello\n", 5,
     "conversations[0].steps[1].reply", "unknown step key"),
    ("conversations:\n  - name: x\n    steps:\n      - user: hi\n        bot: hello\n", 4,
     "conversations[0].steps[0]", "exactly one key"),
    ("conversations:\n  - name: x\n    steps:\n      - user: hi\n      - operator: {claim: true, fly: 1}\n", 5,
     "conversations[0].steps[1].operator.fly", "unknown key"),
    ("conversations:\n  - name: x\n    steps:\n      - user: hi\n      - operator: {claim: true, reply: hi}\n", 5,
     "conversations[0].steps[1].operator", "exactly one of"),
    ("conversations:\n  - name: x\n    steps:\n      - user: hi\n      - no_reply: maybe\n", 5,
     "conversations[0].steps[1].no_reply", "true"),
    ("conversations:\n  - name: x\n    stepz:\n      - user: hi\n", 3, "conversations[0].stepz", "unknown key"),
    ("conversations:\n  - name: x\n    steps: []\n", 3, "conversations[0].steps", "non-empty"),
    ("conversations:\n  - steps:\n      - user: hi\n", 2, "conversations[0].name", "needs a 'name'"),
    ("stories:\n  - name: x\n", 1, "stories", "unknown key"),
    ("conversations:\n  - name: x\n    steps:\n      - user: hi\n  - name: x\n    steps:\n      - user: yo\n", 5,
     "conversations[1].name", "duplicate"),
    ("conversations:\n  - name: x\n    steps:\n      - user: [hi\n", 5, None, "invalid YAML"),
])
def test_malformed_files_name_the_file_line_and_key(tmp_path, text, line, key, words):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        load_conversations([path])
    assert (err.value.file, err.value.line, err.value.key) == (str(path), line, key)
    assert words in err.value.message


def test_a_missing_path_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_conversations([tmp_path / "nope.yml"])


# -- running ------------------------------------------------------------------------------------------
async def test_demo_conversations_pass_each_on_its_own_store(conv_app, tmp_path):
    cases = load_conversations([write(tmp_path, "demo.yml", PASSING)])
    seen = []
    results = await run_conversations(conv_app, cases, on_result=seen.append)
    assert [(r.case.name, r.passed) for r in results] == [(c.name, True) for c in cases], \
        "\n\n".join(format_failure(r) for r in results if not r.passed)
    assert seen == results and [r.turns_run for r in results] == [1, 2, 3, 2]
    # both escalating conversations got ticket #1: every conversation starts from an empty store,
    # and the app's own store is untouched
    from bot.store import Message

    with conv_app.store.session() as s:
        assert s.query(Message).count() == 0


async def test_the_shipped_examples_pass(conv_app):
    """How a pytest test runs shipped conversation files against the session's trained model."""
    from tests.conftest import REPO

    results = await run_conversations(conv_app, load_conversations([REPO / "tests" / "conversations" / "examples.yml"]))
    assert results and all(r.passed for r in results), "\n\n".join(format_failure(r) for r in results if not r.passed)


@pytest.mark.timeout(900)
async def test_every_shipped_conversation_passes(conv_app):
    """The demo brand's conversation tests (tests/conversations/*.yml, at least 100) all pass."""
    from tests.conftest import REPO

    cases = load_conversations([REPO / "tests" / "conversations"])
    assert len(cases) >= 100
    assert {c.language for c in cases} >= {"en", "es", "de", "fr"}
    results = await run_conversations(conv_app, cases)
    failed = [r for r in results if not r.passed]
    assert not failed, f"{len(failed)} of {len(results)} failed:\n\n" + "\n\n".join(format_failure(r) for r in failed)


async def test_a_failure_reports_the_first_wrong_step_with_what_the_bot_did(conv_app, tmp_path):
    path = write(tmp_path, "fail.yml", FAILING)
    results = await run_conversations(conv_app, load_conversations([path]))
    wrong, no_ticket = results
    assert not wrong.passed and wrong.error is None and wrong.turns_run == 1
    f = wrong.failure
    assert f is not None
    assert (f.step.key, f.step.line, f.step.index, f.step.file) == ("utter", FIRST_WRONG_LINE, 3, str(path))
    assert "utter_greet" in f.expected and "utter_ask_order_proof" in f.actual  # orders.verify is on by default
    assert f.turn["user"] == "where is my order VT-482913" and f.turn["intent"] == "order_status"
    assert f.turn["slots"]["order_number"] == "VT-482913" and f.turn["escalations"] == []
    assert "email address or postcode" in f.turn["replies"][0]["text"]
    diff = format_failure(wrong)
    assert f"step 3 at {path}:{FIRST_WRONG_LINE}: utter: \"utter_greet\"" in diff
    assert "intent order_status" in diff and "expected: a reply rendered from 'utter_greet'" in diff
    assert "escalated" not in diff  # the later wrong step is never reached
    assert no_ticket.failure is not None and no_ticket.failure.actual == "no escalation for this fan"
    # --fail-fast stops at the first failing conversation
    assert len(await run_conversations(conv_app, load_conversations([path]), fail_fast=True)) == 1


async def test_reports_are_valid_json_and_junit(conv_app, tmp_path):
    cases = load_conversations([write(tmp_path, "a.yml", PASSING.split("\n  - name: refund")[0] + "\n"),
                                write(tmp_path, "b.yml", FAILING)])
    results = await run_conversations(conv_app, cases)
    out = write_reports(tmp_path / "rep", results)
    data = json.loads((out / "results.json").read_text())
    assert data["summary"] == {"total": 4, "passed": 2, "failed": 2, "not_run": 0,
                               "seconds": data["summary"]["seconds"],
                               "by_language": {"en": {"total": 3, "passed": 2, "failed": 1},
                                               "unspecified": {"total": 1, "passed": 0, "failed": 1}}}
    bad = data["conversations"][2]
    assert bad["failed_step"] == {"index": 3, "file": str(tmp_path / "b.yml"), "line": FIRST_WRONG_LINE,
                                  "key": "utter", "value": "utter_greet"}
    assert "utter_greet" in bad["expected"] and bad["turn"]["intent"] == "order_status"
    root = ET.parse(out / "junit.xml").getroot()
    cases_xml = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases_xml] == [c.name for c in cases]
    assert root.get("tests") == "4" and root.get("failures") == "2"
    failure = cases_xml[2].find("failure")
    assert failure is not None and f"b.yml:{FIRST_WRONG_LINE}" in (failure.get("message") or "")
    assert "email address or postcode" in (failure.text or "")
    assert cases_xml[0].find("failure") is None


# -- the command ------------------------------------------------------------------------------------------
def test_cli_runs_conversations_writes_reports_and_exits_by_outcome(tmp_path, model_dir, capsys):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'prod.db'}", model_dir)
    tests = tmp_path / "conversations"
    write(tests, "a_fail.yml", FAILING)
    passing = write(tests, "b_pass.yml", PASSING)
    out = tmp_path / "rep"
    assert main(["test", "conversations", str(tests), "--out", str(out), "--config", str(config)]) == 1
    printed = capsys.readouterr().out
    assert "PASS   greet" in printed and "FAIL   expects a greeting after an order question" in printed
    assert f"step 3 at {tests / 'a_fail.yml'}:{FIRST_WRONG_LINE}" in printed
    assert "4 passed, 2 failed" in printed
    assert json.loads((out / "results.json").read_text())["summary"]["failed"] == 2
    assert len(ET.parse(out / "junit.xml").getroot().findall(".//testcase")) == 6
    assert not (tmp_path / "prod.db").exists()  # the configured store is never used

    assert main(["test", "conversations", str(tests), "--fail-fast", "--out", str(out), "--config", str(config)]) == 1
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert (summary["total"], summary["failed"], summary["not_run"]) == (6, 1, 5)
    capsys.readouterr()

    assert main(["test", "conversations", str(passing), "--out", str(out), "--config", str(config)]) == 0
    assert "4 passed, 0 failed" in capsys.readouterr().out


def test_cli_malformed_file_exits_2_naming_file_and_line(tmp_path, capsys):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'prod.db'}", tmp_path / "no-model")
    bad = tmp_path / "bad.yml"
    bad.write_text("conversations:\n  - name: x\n    steps:\n      - user: hi\n      - expect: hello\n")
    assert main(["test", "conversations", str(bad), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5: conversations[0].steps[1].expect: unknown step key" in err
    assert main(["test", "conversations", str(tmp_path / "missing"), "--config", str(config)]) == 2
