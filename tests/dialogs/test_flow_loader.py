"""The flows loader and checker (`dialogs/flows.py`): every problem names file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dialogs.flows import END, FlowSet, check_flows, load_flows
from nlu.yamlfile import DataError

REPO = Path(__file__).resolve().parents[2]
RESPONSES = {"utter_ask_a", "utter_ask_b", "utter_x", "utter_y", "utter_z", "utter_done"}
HEADER = """\
version: "1"
slots:
  a: {type: text}
  b: {type: bool}
flows:
"""


def write(tmp_path: Path, body: str, name: str = "flows.yml", header: bool = True) -> Path:
    p = tmp_path / name
    text = textwrap.dedent(body)
    p.write_text(HEADER + textwrap.indent(text, "  ") if header else text, encoding="utf-8")
    return p


def line_of(path: Path, fragment: str, nth: int = 0) -> int:
    """1-based line of the nth line containing `fragment`."""
    hits = [i + 1 for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()) if fragment in line]
    assert len(hits) > nth, f"{fragment!r} not in {path}"
    return hits[nth]


def problems(path: Path | list[Path], **kw) -> list[DataError]:
    kw.setdefault("responses", RESPONSES)
    kw.setdefault("actions", set())
    paths = path if isinstance(path, list) else [path]
    return load_flows(paths, strict=False, **kw).problems


def one(found: list[DataError], fragment: str, key: str | None = None) -> DataError:
    hits = [p for p in found if fragment in p.message and (key is None or p.key == key)]
    assert len(hits) == 1, f"expected one problem with {fragment!r}, got: {[p.describe() for p in found]}"
    return hits[0]


def assert_at(err: DataError, path: Path, line: int, key: str) -> None:
    assert (err.file, err.line, err.key) == (str(path), line, key), err.describe()
    assert err.describe().startswith(f"{path}:{line}: {key}: ")


# -- a clean file --------------------------------------------------------------------------------


def test_a_clean_flow_has_no_problems(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: Ask for a and b.
        nlu_trigger:
          - intent: f_intent
          - intent: {name: f_other, confidence_threshold: 0.8}
        steps:
          - collect: a
          - collect: b
            utter: utter_x
            reask: utter_y
            on_give_up: utter_z
          - action: utter_done
    """)
    fs = load_flows([p], responses=RESPONSES, actions=set())
    assert fs.problems == []
    flow = fs.flows["f"]
    assert [s.kind for s in flow.steps] == ["collect", "collect", "action"]
    assert [s.next for s in flow.steps] == ["steps[1]", "steps[2]", END]
    assert fs.for_intent("f_intent") is flow
    assert fs.for_intent("f_other", 0.9) is flow
    assert fs.for_intent("f_other", 0.7) is None
    assert fs.trigger_intents() == {"f_intent", "f_other"}
    assert flow.file == str(p) and flow.line == line_of(p, "  f:")


# -- unknown names ----------------------------------------------------------------------------------


def test_unknown_slot_in_collect(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: nope
            utter: utter_x
    """)
    assert_at(one(problems(p), "unknown slot 'nope'"), p, line_of(p, "collect: nope"), "f.steps[0]")


def test_unknown_slot_in_set_slots(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - action: utter_x
          - id: setter
            set_slots:
              - a: "1"
              - zz: 1
    """)
    err = one(problems(p), "unknown slot 'zz' in set_slots")
    assert_at(err, p, line_of(p, "id: setter"), "f.setter")


def test_unknown_slot_in_condition(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
            next:
              - if: slots.a == 'x' and slots.q > 1
                then: END
              - else: END
    """)
    err = one(problems(p), "unknown slot 'q' in condition")
    assert "slots.a == 'x' and slots.q > 1" in err.message
    assert_at(err, p, line_of(p, "collect: a"), "f.steps[0]")


@pytest.mark.parametrize(("step", "message"), [
    (["action: utter_missing"], "unknown response 'utter_missing' (not in the domain)"),
    (["collect: a", "utter: utter_missing"], "unknown response 'utter_missing' in utter"),
    (["collect: a", "reask: utter_missing"], "unknown response 'utter_missing' in reask"),
    (["collect: a", "on_give_up: utter_missing"], "unknown response 'utter_missing' in on_give_up"),
    (["escalate: {queue: q}", "utter: utter_missing"], "unknown response 'utter_missing' in utter"),
])
def test_unknown_response(tmp_path: Path, step: list[str], message: str) -> None:
    body = "f:\n  description: d\n  steps:\n    - " + "\n      ".join(step) + "\n"
    p = write(tmp_path, body)
    err = one(problems(p), message)
    assert_at(err, p, line_of(p, "- " + step[0]), "f.steps[0]")


def test_collect_without_a_question(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
          - collect: b
    """)
    err = one(problems(p, responses={"utter_ask_a"}), "no question to ask")
    assert "utter_ask_b" in err.message
    assert_at(err, p, line_of(p, "collect: b"), "f.steps[1]")


def test_unknown_custom_action(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - action: action_check_stock
    """)
    err = one(problems(p), "unknown action 'action_check_stock'")
    assert_at(err, p, line_of(p, "action: action_check_stock"), "f.steps[0]")
    # an action server takes every name; a registered Python action is known
    assert problems(p, remote_actions=True) == []
    assert problems(p, actions={"action_check_stock"}) == []
    # with no action list at all, actions are not checked
    assert problems(p, actions=None) == []


def test_unknown_next_target(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - id: first
            action: utter_x
            next: ghost
          - id: branch
            action: utter_y
            next:
              - if: slots.b
                then: phantom
              - else: END
    """)
    found = problems(p)
    err = one(found, "unknown step 'ghost'")
    assert "ids in this flow: first, branch" in err.message
    assert_at(err, p, line_of(p, "id: first"), "f.first")
    assert_at(one(found, "unknown step 'phantom'"), p, line_of(p, "id: branch"), "f.branch")


@pytest.mark.parametrize("kind", ["call", "link"])
def test_unknown_call_or_link_flow(tmp_path: Path, kind: str) -> None:
    p = write(tmp_path, f"""\
      f:
        description: d
        steps:
          - action: utter_x
          - {kind}: nowhere
    """)
    err = one(problems(p), f"{kind} to unknown flow 'nowhere'")
    assert_at(err, p, line_of(p, f"{kind}: nowhere"), "f.steps[1]")


def test_unknown_trigger_intent(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        nlu_trigger:
          - intent: not_trained
        steps:
          - action: utter_x
    """)
    err = one(problems(p, intents={"greet"}), "trigger intent 'not_trained'")
    assert_at(err, p, line_of(p, "  f:"), "f.nlu_trigger")
    assert problems(p, intents={"not_trained"}) == []


def test_bad_trigger(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        nlu_trigger:
          - intnet: typo
        steps:
          - action: utter_x
    """)
    assert_at(one(problems(p), "a trigger is"), p, line_of(p, "intnet: typo"), "f.nlu_trigger[0]")


# -- the graph ------------------------------------------------------------------------------------------


def test_unreachable_step(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - action: utter_x
            next: END
          - id: dead
            action: utter_y
    """)
    err = one(problems(p), "unreachable")
    assert_at(err, p, line_of(p, "id: dead"), "f.dead")


def test_loop_without_collect(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - id: one
            action: utter_x
          - id: two
            action: utter_y
            next: one
    """)
    err = one(problems(p), "loop without a 'collect' step")
    assert_at(err, p, line_of(p, "id: one"), "f.one")


def test_loop_through_a_branch_without_collect(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
          - id: again
            action: utter_x
            next:
              - if: slots.b
                then: again
              - else: END
    """)
    assert_at(one(problems(p), "loop without a 'collect' step"), p, line_of(p, "id: again"), "f.again")


def test_loop_with_a_collect_is_fine(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - id: ask
            collect: a
          - action: utter_x
            next:
              - if: slots.a == 'again'
                then: ask
              - else: END
    """)
    assert problems(p) == []


def test_a_flow_calling_itself(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - action: utter_x
          - id: recurse
            call: f
    """)
    err = one(problems(p), "flow 'f' calls itself")
    assert_at(err, p, line_of(p, "id: recurse"), "f.recurse")


def test_flows_calling_each_other(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - call: g
      g:
        description: d
        steps:
          - call: f
      h:
        description: calls g but is not in the cycle
        steps:
          - call: g
    """)
    found = [e for e in problems(p) if "calls itself" in e.message]
    assert sorted(e.key for e in found) == ["f.steps[0]", "g.steps[0]"]
    assert {e.line for e in found} == {line_of(p, "call: g"), line_of(p, "call: f")}


def test_link_to_itself_is_not_a_call_cycle(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
          - link: f
    """)
    assert problems(p) == []


# -- syntax ---------------------------------------------------------------------------------------------


def test_bad_condition_syntax(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
            next:
              - if: "slots.a =="
                then: END
              - else: END
    """)
    err = one(problems(p), "ends too early")
    assert_at(err, p, line_of(p, "if: \"slots.a ==\""), "f.next.if")


def test_condition_that_would_run_code(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
            next:
              - if: import os
                then: END
    """)
    assert_at(one(problems(p), "unknown name 'import'"), p, line_of(p, "if: import os"), "f.next.if")


def test_branch_problems(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
            next:
              - else: END
              - if: slots.b
          - collect: b
            next: [nonsense]
    """)
    found = problems(p)
    assert_at(one(found, "'else' must be the last branch"), p, line_of(p, "- else: END"), "f.next")
    assert_at(one(found, "an 'if' branch needs 'then:'"), p, line_of(p, "- if: slots.b"), "f.next")
    assert_at(one(found, "a branch is"), p, line_of(p, "[nonsense]"), "f.next")


def test_bad_regex(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
            validate:
              regex: "([a-z"
    """)
    err = one(problems(p), "bad regex")
    assert_at(err, p, line_of(p, "regex:"), "f.steps.validate.regex")


def test_validation_problems(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
            validate: {lookup: [], normalise: rot13, colour: red}
          - collect: b
            validate: {choices: [[1, 2]]}
          - collect: a
            validate: {regex: x, lookup: [x]}
    """)
    found = problems(p)
    assert one(found, "lookup is a non-empty list").key == "f.steps.validate.lookup"
    assert one(found, "unknown normaliser").key == "f.steps.validate.normalise"
    assert one(found, "unknown key", "f.steps.validate.colour").line == line_of(p, "colour: red")
    assert one(found, "a choice is").key == "f.steps.validate.choices[0]"
    assert one(found, "choices is a non-empty list").key == "f.steps.validate.choices"
    assert one(found, "validate takes one of").line == line_of(p, "validate: {regex: x")


def test_two_step_kinds_in_one_step(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - action: utter_x
          - collect: a
            action: utter_y
    """)
    err = one(problems(p), "this one has collect, action")
    assert_at(err, p, line_of(p, "collect: a"), "f.steps")


def test_a_step_with_no_kind(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - action: utter_x
          - id: lonely
    """)
    assert_at(one(problems(p), "a step needs one of"), p, line_of(p, "id: lonely"), "f.steps")


def test_a_flow_whose_only_step_is_invalid_is_reported_not_a_crash(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - "just a sentence"
    """)
    err = one(problems(p), "a step is a mapping")
    assert_at(err, p, line_of(p, "just a sentence"), "f.steps")


def test_unknown_keys(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        colour: red
        steps:
          - action: utter_x
            utter: utter_y
          - collect: a
            retries: 3
          - escalate: {queue: q, priority: sky-high}
          - escalate: {priority: high}
    """)
    p.write_text(p.read_text() + "stories: []\n", encoding="utf-8")
    (tmp_path / "slots.yml").write_text('slots:\n  s: {type: text, default: 1}\n  t: {type: colour}\n  u: [1]\n',
                                        encoding="utf-8")
    found = problems(p)
    assert_at(one(found, "unknown key (expected version"), p, line_of(p, "stories:"), "stories")
    assert_at(one(found, "unknown key", "f.colour"), p, line_of(p, "colour: red"), "f.colour")
    assert_at(one(found, "unknown key for a action step"), p, line_of(p, "utter: utter_y"), "f.steps.utter")
    assert_at(one(found, "unknown key for a collect step"), p, line_of(p, "retries: 3"), "f.steps.retries")
    assert_at(one(found, "priority must be one of"), p, line_of(p, "sky-high"), "f.steps.escalate")
    assert_at(one(found, "escalate needs a queue"), p, line_of(p, "{priority: high}"), "f.steps.escalate")
    s = tmp_path / "slots.yml"
    found = problems(s)
    assert_at(one(found, "unknown key", "s.default"), s, 2, "s.default")
    assert_at(one(found, "unknown slot type 'colour'"), s, 3, "t.type")
    assert_at(one(found, "a slot is a mapping"), s, 4, "u")


def test_missing_description_and_steps(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        steps:
          - action: utter_x
      g:
        description: no steps
        steps: []
      h: just a string
    """)
    found = problems(p)
    assert_at(one(found, "needs a description"), p, line_of(p, "  f:"), "f")
    assert_at(one(found, "non-empty list of steps"), p, line_of(p, "steps: []"), "g.steps")
    assert_at(one(found, "a flow is a mapping"), p, line_of(p, "h: just a string"), "h")


def test_duplicate_step_id(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - id: same
            action: utter_x
          - id: same
            action: utter_y
    """)
    err = one(problems(p), "step id 'same' used twice")
    assert_at(err, p, line_of(p, "id: same", nth=1), "f.steps.id")


def test_flow_defined_twice_across_files_and_a_folder_loads_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    write(folder, "  f:\n    description: d\n    steps:\n      - action: utter_x\n", name="a.yml")
    b = write(folder, "  f:\n    description: again\n    steps:\n      - action: utter_y\n", name="b.yaml")
    (folder / "notes.txt").write_text("not a flows file")
    fs = load_flows([folder], responses=RESPONSES, actions=set(), strict=False)
    assert_at(one(fs.problems, "flow defined twice"), b, line_of(b, "  f:"), "f")
    assert fs.flows["f"].description == "d"  # the first file wins


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "flows.yml"
    p.write_text("flows:\n  f:\n    description: d\n    steps: [\n", encoding="utf-8")
    (err,) = problems(p)
    assert err.file == str(p) and err.line is not None and "invalid YAML" in err.message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    p = tmp_path / "flows.yml"
    p.write_text("- flows\n", encoding="utf-8")
    (err,) = problems(p)
    assert err.file == str(p) and err.line == 1 and "top level must be a mapping" in err.message


def test_every_problem_names_file_line_and_key(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        colour: red
        steps:
          - collect: nope
          - set_slots: [{zz: 1}]
          - action: utter_missing
          - action: action_missing
          - collect: a
            utter: utter_nope
            validate: {regex: "("}
          - next:
              - if: slots.q == 1
                then: END
              - if: "slots.a =="
                then: END
              - else: ghost
          - call: nowhere
          - link: f
      g:
        description: d
        steps:
          - id: one
            action: utter_x
          - action: utter_y
            next: one
          - call: g
    """)
    found = problems(p)
    assert len(found) >= 14
    for err in found:
        assert err.file == str(p), err.describe()
        assert isinstance(err.line, int) and err.line > 0, err.describe()
        assert err.key, err.describe()


# -- strict mode ---------------------------------------------------------------------------------------


def test_strict_raises_the_first_problem_with_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: nope
            utter: utter_x
    """)
    with pytest.raises(DataError) as info:
        load_flows([p], responses=RESPONSES, actions=set())
    line = line_of(p, "collect: nope")
    assert str(info.value).startswith(f"{p}:{line}: f.steps[0]: unknown slot 'nope'")
    assert (info.value.file, info.value.line) == (str(p), line)


def test_strict_is_the_default_and_a_clean_file_does_not_raise(tmp_path: Path) -> None:
    p = write(tmp_path, "  f:\n    description: d\n    steps:\n      - action: utter_x\n")
    assert list(load_flows([p], responses=RESPONSES, actions=set()).flows) == ["f"]


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_flows([tmp_path / "missing.yml"])
    assert "cannot read file" in str(info.value)


def test_check_flows_can_run_again_on_a_flow_set(tmp_path: Path) -> None:
    p = write(tmp_path, "  f:\n    description: d\n    steps:\n      - action: utter_x\n")
    fs = load_flows([p])  # no responses given: responses are not checked
    assert isinstance(fs, FlowSet) and fs.problems == []
    found = check_flows(fs, responses={"utter_y"})
    assert [e.message for e in found] == ["unknown response 'utter_x' (not in the domain)"]
    assert fs.problems == found


# -- responses carried in a flows file -------------------------------------------------------------------


def _with_responses(tmp_path: Path) -> Path:
    p = tmp_path / "flows.yml"
    p.write_text(textwrap.dedent("""\
        version: "1"
        responses:
          utter_only_here:
            - text: "From the flows file"
          utter_x:
            - text: "Also in the domain"
        flows:
          f:
            description: d
            steps:
              - action: utter_only_here
              - action: utter_x
    """), encoding="utf-8")
    return p


def test_responses_in_a_flows_file_are_accepted(tmp_path: Path) -> None:
    p = _with_responses(tmp_path)
    fs = load_flows([p], responses={"utter_y"}, actions=set())
    assert set(fs.responses) == {"utter_only_here", "utter_x"}
    assert fs.responses["utter_only_here"][0].text == "From the flows file"


def test_a_response_in_a_flows_file_and_the_domain_is_reported(tmp_path: Path) -> None:
    p = _with_responses(tmp_path)
    found = problems(p, responses={"utter_x"})
    err = one(found, "already defined in the domain")
    assert err.key == "utter_x"
    with pytest.raises(DataError, match="utter_x: response already defined in the domain"):
        load_flows([p], responses={"utter_x"}, actions=set())


def test_a_response_duplicated_with_the_domain_names_file_and_line(tmp_path: Path) -> None:
    p = _with_responses(tmp_path)
    err = one(problems(p, responses={"utter_x"}), "already defined in the domain")
    assert_at(err, p, line_of(p, "utter_x:"), "utter_x")


def test_a_response_in_two_flows_files(tmp_path: Path) -> None:
    a = _with_responses(tmp_path)
    b = tmp_path / "more.yml"
    b.write_text('responses:\n  utter_only_here:\n    - text: "again"\n', encoding="utf-8")
    found = problems([a, b], responses=set())
    assert_at(one(found, "response defined twice"), b, 2, "utter_only_here")


def test_a_bad_response_in_a_flows_file(tmp_path: Path) -> None:
    p = tmp_path / "flows.yml"
    p.write_text('responses:\n  utter_bad:\n    - buttons: []\nflows: {}\n', encoding="utf-8")
    assert_at(one(problems(p), "each variation needs a 'text'"), p, 3, "utter_bad[0]")


# -- inline blocks --------------------------------------------------------------------------------------


def test_inline_then_blocks_are_flattened_and_chained(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
            next:
              - if: slots.a == 'x'
                then:
                  - action: utter_x
                  - action: utter_y
                    next: done
              - else:
                  - action: utter_z
          - id: done
            action: utter_done
    """)
    fs = load_flows([p], responses=RESPONSES, actions=set())
    steps = fs.flows["f"].steps
    assert [(s.index, s.kind, s.action) for s in steps] == [
        (0, "collect", None), (1, "action", "utter_x"), (2, "action", "utter_y"), (3, "action", "utter_z"),
        (4, "action", "utter_done")]
    branches = steps[0].next
    assert isinstance(branches, list)
    assert [(b.condition.source if b.condition else None, b.target) for b in branches] == [
        ("slots.a == 'x'", "steps[1]"), (None, "steps[3]")]
    assert steps[1].next == "steps[2]"  # the block chains
    assert steps[2].next == "done"  # its own next wins
    assert steps[3].next == END  # the last step of an inline block ends the flow
    assert steps[4].next == END
    assert steps[2].line == line_of(p, "action: utter_y")
    assert fs.flows["f"].by_id["done"] == 4


def test_if_without_else_ends_the_flow(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: b
            next:
              - if: slots.b
                then:
                  - action: utter_x
    """)
    steps = load_flows([p], responses=RESPONSES, actions=set()).flows["f"].steps
    assert [b.target for b in steps[0].next] == ["steps[1]", END]


def test_nested_inline_blocks(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: d
        steps:
          - collect: a
            next:
              - if: slots.a == 'x'
                then:
                  - collect: b
                    next:
                      - if: slots.b
                        then:
                          - action: utter_x
                      - else: END
          - action: utter_done
    """)
    fs = load_flows([p], responses=RESPONSES, actions=set(), strict=False)
    # the top-level step after a branching step is only reached by a jump: here nothing jumps to it
    assert [e.key for e in fs.problems] == ["f.steps[3]"]
    steps = fs.flows["f"].steps
    assert [s.kind for s in steps] == ["collect", "collect", "action", "action"]
    assert [b.target for b in steps[1].next] == ["steps[2]", END]


# -- the shipped flows -----------------------------------------------------------------------------------


def test_the_shipped_flows_load_cleanly_against_the_shipped_domain() -> None:
    from bot.orders import CsvOrderTable
    from dialogs.actions import ActionRegistry
    from dialogs.builtin_actions import builtin_actions
    from dialogs.domain import Domain

    domain = Domain.load(REPO / "dialogs" / "domain.yml")
    registry = builtin_actions(ActionRegistry(), orders=CsvOrderTable(REPO / "dialogs" / "demo_orders.csv"))
    fs = load_flows([REPO / "dialogs" / "flows.yml"], responses=set(domain.responses),
                    actions=registry.names() | {"action_record_csat"}, strict=False)
    assert [e.describe() for e in fs.problems] == []
    assert {"order_status", "refund", "complaint", "human_handoff", "crisis", "csat"} <= set(fs.flows)
    assert fs.for_intent("refund_request").id == "refund"
    crisis = fs.flows["crisis"].steps[0]
    assert (crisis.kind, crisis.queue, crisis.priority) == ("escalate", "crisis", "urgent")
    # without the CSAT action registered, the checker says so
    bare = load_flows([REPO / "dialogs" / "flows.yml"], responses=set(domain.responses),
                      actions=registry.names(), strict=False)
    assert [e.key for e in bare.problems] == ["csat.steps[1]"]


def test_notes_name_intents_of_the_training_data(tmp_path: Path) -> None:
    p = write(tmp_path, """\
      f:
        description: Ask for a.
        notes: complaint
        steps:
          - collect: a
      g:
        description: Ask for b.
        notes: [complaint, no_such_intent]
        steps:
          - collect: b
    """)
    found = problems(p, intents={"complaint"})
    assert_at(one(found, "notes is a list of intent names"), p, line_of(p, "notes: complaint"), "f.notes")
    assert one(found, "notes intent 'no_such_intent' is not in the training data").key == "g.notes"
    assert load_flows([p], strict=False).flows["g"].notes == ("complaint", "no_such_intent")
