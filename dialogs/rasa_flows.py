"""Turn a Rasa 3.x project's forms and rules into fancare flows (`docs/flows.md`).

`flows_from_rasa(project_dir)` returns `(document, notes)`: the flows document as a plain dict
(`version`, `slots`, `flows`, ready for `dump_flows`) and human-readable notes, one per thing that
was not translated (or translated with a change of behaviour), each naming its file. Data files are
named relative to `data/` (as the rest of `fancare data import-rasa` does), domain files relative to
the project. Nothing is dropped silently.

Forms (domain `forms:`) -> one flow per form, with the form's name as the flow id:
- one `collect` per required slot, in order, `utter: utter_ask_<form>_<slot>` when the domain has
  that response (Rasa prefers it), else `utter_ask_<slot>`;
- `validate:` from the slot's mappings (those without conditions, or with `active_loop: <form>`):
  `from_entity: X` -> `{entity: X}`; `from_intent` (with `value`) -> `{choices: [...]}`, one button
  per value (titles: Yes/No for booleans, the value for strings, else the intent's name);
  a categorical slot with `values` -> `{lookup: values}`; a bool slot -> Yes/No choices; a float
  slot -> a number regex; `from_text` -> no validation (any text);
- `from_trigger_intent` (the form started by that intent) -> a `set_slots` step first; the collect
  stays but does not ask, because the slot is already filled;
- a `validate_<form>` custom action (Rasa's FormValidationAction) -> an `action: validate_<form>`
  step right after the collects, plus a note: Rasa ran it after every answer and could re-ask a
  slot, here it runs once when everything is collected, so per-slot checks should move to
  `validate:` where a regex, lookup or choices can express them;
- rules: `intent X, action <form>, active_loop <form>` -> `nlu_trigger: [{intent: X}]`; the submit
  rule (`condition: active_loop <form>`, `action <form>, active_loop null`, optionally
  `slot_was_set: requested_slot: null`, then actions) -> those actions as the flow's last steps (an
  activation rule that goes on to `active_loop: null` and actions counts as both).

Simple rules (`intent X` then one or more actions, no condition) -> a flow `X` with
`nlu_trigger: [{intent: X}]` and one `action` step per action. The NLU/domain import still files
the response as `utter_<intent>`, which the policy uses only for intents that have no flow, so a
project served without flows keeps answering them.

Slots the flows use go to `slots:` (text, bool, float, categorical with values, any; `list` and
custom types become `any`, with a note).

Listed as not translated: rules with a `condition:` (other than the submit pattern), `slot_was_set`
checks, `wait_for_user_input: false`, `conversation_start`, several intents (`or:`), intents with
entities, Rasa's built-in actions; stories (always: write flows); form `ignored_intents`; mapping
`intent`/`not_intent`/`role`/`group` restrictions; custom slot mappings and `action_ask_*` actions;
`initial_value`; entities fancare's rule-based extractor cannot find (no regex, lookup or annotated
example); custom actions' code (the flows call them on the Rasa action server); unused slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.rasa_project import load_yaml, yaml_files
from nlu.readers import read_rasa_yaml
from nlu.training_data import TrainingData
from nlu.yamlfile import DataError

SLOT_TYPES = {"text": "text", "bool": "bool", "float": "float", "categorical": "categorical", "any": "any"}
RASA_BUILTIN_ACTIONS = {
    "action_listen", "action_restart", "action_session_start", "action_default_fallback",
    "action_deactivate_loop", "action_revert_fallback_events", "action_default_ask_affirmation",
    "action_default_ask_rephrase", "action_two_stage_fallback", "action_unlikely_intent", "action_back",
    "action_extract_slots",
}
NUMBER_REGEX = r"(-?\d+(?:[.,]\d+)?)"
YES_NO = [{"title": "Yes", "value": True}, {"title": "No", "value": False}]
BUILT_IN = "fancare's digression and cancel handling covers this"


@dataclass
class _Domain:
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    responses: set[str] = field(default_factory=set)
    actions: list[str] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)  # "form:x" / "slot:x" / "action:x" -> file


@dataclass
class _Form:
    """What the rules say about one form."""

    triggers: list[str] = field(default_factory=list)
    submit: list[str] | None = None
    submit_rule: str = ""


def _read_domain(root: Path) -> _Domain:
    files = [root / "domain.yml"] if (root / "domain.yml").exists() else yaml_files(root / "domain")
    d = _Domain()
    for f in files:
        raw = load_yaml(f) or {}
        if not isinstance(raw, dict):
            continue
        name = f.relative_to(root).as_posix()
        for form, spec in (raw.get("forms") or {}).items():
            d.forms[str(form)] = spec if isinstance(spec, dict) else {}
            d.origin[f"form:{form}"] = name
        for slot, spec in (raw.get("slots") or {}).items():
            d.slots[str(slot)] = spec if isinstance(spec, dict) else {}
            d.origin[f"slot:{slot}"] = name
        d.responses |= {str(r) for r in raw.get("responses") or {}}
        for a in raw.get("actions") or []:
            action = str(next(iter(a))) if isinstance(a, dict) else str(a)
            if action not in d.actions:
                d.actions.append(action)
                d.origin[f"action:{action}"] = name
    return d


def _required_slots(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]] | None]]:
    """(slot, mappings given in the form) - Rasa 3 lists names; Rasa 2 maps names to mappings."""
    required = spec.get("required_slots") or []
    if isinstance(required, dict):
        return [(str(s), [m for m in (maps or []) if isinstance(m, dict)]) for s, maps in required.items()]
    return [(str(s), None) for s in required]


# --- rules -------------------------------------------------------------------------------------------


def _is_requested_slot_reset(step: dict[str, Any]) -> bool:
    sws = step.get("slot_was_set")
    return set(step) == {"slot_was_set"} and isinstance(sws, list) and len(sws) == 1 \
        and sws[0] in ({"requested_slot": None}, "requested_slot")


def _actions(steps: list[dict[str, Any]]) -> list[str] | str:
    """The action names of `steps`, or why they are not a plain list of actions."""
    names = []
    for s in steps:
        if "slot_was_set" in s:
            return "checks slots (slot_was_set)"
        if set(s) != {"action"}:
            return f"unexpected step {next(iter(s), '?')!s} after the first"
        name = str(s["action"])
        if name in RASA_BUILTIN_ACTIONS:
            return f"uses Rasa's built-in {name}, which has no flow equivalent"
        names.append(name)
    return names


def _after_submit(steps: list[dict[str, Any]]) -> list[str] | str:
    """`active_loop: null`, optionally `slot_was_set: requested_slot: null`, then actions."""
    if steps and "slot_was_set" in steps[0]:
        return "checks slots (slot_was_set)"
    if not steps or steps[0] != {"active_loop": None}:
        return "does more than start a form"
    rest = steps[1:]
    if rest and _is_requested_slot_reset(rest[0]):
        rest = rest[1:]
    return _actions(rest)


def _classify(rule: dict[str, Any], forms: set[str]) -> tuple[str, Any] | str:
    """("simple", (intent, actions)) | ("activate", (intent, form, actions|None)) | ("submit", (form, actions)),
    or the reason the rule is not translated."""
    extra = set(rule) - {"rule", "steps", "condition", "wait_for_user_input", "conversation_start", "metadata"}
    if extra:
        return f"unknown keys {', '.join(sorted(extra))}"
    if rule.get("wait_for_user_input") is False:
        return "wait_for_user_input: false"
    if rule.get("conversation_start"):
        return "conversation_start: true"
    steps = [s for s in rule.get("steps") or [] if isinstance(s, dict)]
    if not steps:
        return "no steps"
    condition = rule.get("condition")
    if condition:
        form = condition[0].get("active_loop") if isinstance(condition, list) and len(condition) == 1 \
            and isinstance(condition[0], dict) and set(condition[0]) == {"active_loop"} else None
        if form not in forms:
            return "has a condition"
        if "intent" in steps[0] or "or" in steps[0]:
            return f"handles a message while {form} runs; {BUILT_IN}"
        if steps[0] != {"action": form}:
            return "has a condition"
        after = _after_submit(steps[1:])
        return ("submit", (form, after)) if isinstance(after, list) else "has a condition"
    first = steps[0]
    if "or" in first:
        return "several intents (or:)"
    if "intent" not in first:
        return "does not start with an intent"
    if set(first) != {"intent"}:
        return "the intent carries entities or other conditions"
    intent = str(first["intent"])
    rest = steps[1:]
    if len(rest) >= 2 and rest[0].get("action") in forms and rest[1] == {"active_loop": rest[0]["action"]}:
        form = str(rest[0]["action"])
        if len(rest) == 2:
            return ("activate", (intent, form, None))
        after = _after_submit(rest[2:])
        return ("activate", (intent, form, after)) if isinstance(after, list) else after
    if not rest:
        return "no action after the intent"
    names = _actions(rest)
    if isinstance(names, str):
        return names
    if any(n in forms for n in names):
        return "runs a form without activating it"
    return ("simple", (intent, names))


# --- forms -------------------------------------------------------------------------------------------


def _title(value: Any, intent: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str) and value:
        return value
    name = intent[0] if isinstance(intent, list) and intent else intent
    return str(name).replace("_", " ").capitalize() if name else str(value)


def _entity_known(td: TrainingData, entity: str) -> bool:
    return entity in td.regexes or entity in td.lookups or any(
        e.entity == entity for ex in td.examples for e in ex.entities)


def _collect(form: str, slot: str, mappings: list[dict[str, Any]], slot_spec: dict[str, Any], dom: _Domain,
             td: TrainingData, where: str, notes: list[str]) -> dict[str, Any]:
    step: dict[str, Any] = {"collect": slot}
    for ask in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
        if ask in dom.responses:
            step["utter"] = ask
            break
    else:
        step["utter"] = f"utter_ask_{slot}"
        custom = [a for a in (f"action_ask_{form}_{slot}", f"action_ask_{slot}") if a in dom.actions]
        notes.append(f"form {form} ({where}): slot {slot} "
                     + (f"is asked by the custom action {custom[0]} (not translated) and " if custom else "")
                     + f"has no response utter_ask_{slot} in the domain; add one")
    used = []
    for m in mappings:
        conds = m.get("conditions") or []
        if not conds:
            used.append(m)
            continue
        mine = [c for c in conds if isinstance(c, dict) and c.get("active_loop") == form]
        if not mine:
            continue
        if all(c.get("requested_slot") not in (None, slot) for c in mine):
            notes.append(f"slot {slot} ({where}): a mapping that fills it while {form} asks for "
                         f"{mine[0].get('requested_slot')} is not translated")
            continue
        used.append(m)
    for m in used:
        limits = [k for k in ("intent", "not_intent", "role", "group") if m.get(k)
                  and not (k == "intent" and m.get("type") in ("from_intent", "from_trigger_intent"))]
        if limits:
            notes.append(f"slot {slot} ({where}): the {m.get('type')} mapping's {', '.join(limits)} "
                         "restriction is not translated")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for m in used:
        by_type.setdefault(str(m.get("type")), []).append(m)
    kind = slot_spec.get("type")
    values = [str(v) for v in slot_spec.get("values") or [] if str(v) != "__other__"]
    if by_type.get("from_entity"):
        entities = list(dict.fromkeys(str(m.get("entity")) for m in by_type["from_entity"]))
        step["validate"] = {"entity": entities[0]}
        if len(entities) > 1:
            notes.append(f"slot {slot} ({where}): filled from entities {', '.join(entities)}; "
                         f"only {entities[0]} is translated")
        if not _entity_known(td, entities[0]):
            notes.append(f"slot {slot} ({where}): entity {entities[0]} has no regex, lookup or annotated "
                         "example in the imported data, so fancare's rule-based extractor will not find it")
    elif by_type.get("from_intent"):
        choices: list[dict[str, Any]] = []
        for m in by_type["from_intent"]:
            if "value" in m and all(c["value"] != m["value"] for c in choices):
                choices.append({"title": _title(m["value"], m.get("intent")), "value": m["value"]})
        step["validate"] = {"choices": choices}
        notes.append(f"slot {slot} ({where}): from_intent mappings became choices "
                     f"({', '.join(str(c['title']) for c in choices)}): the answer is a button or a typed "
                     "title, not an intent")
    elif kind == "categorical" and values:
        step["validate"] = {"lookup": values}
    elif kind == "bool":
        step["validate"] = {"choices": [dict(c) for c in YES_NO]}
    elif kind == "float":
        step["validate"] = {"regex": NUMBER_REGEX}
    others = sorted(set(by_type) - {"from_entity", "from_intent", "from_text", "from_trigger_intent"})
    if others:
        notes.append(f"slot {slot} ({where}): {', '.join(others)} mappings (extraction on the action server) "
                     "are not translated")
    if not used:
        notes.append(f"slot {slot} ({where}): no mappings {form} uses; the flow takes any text")
    return step


def _slot_decl(slot: str, spec: dict[str, Any], where: str, notes: list[str]) -> dict[str, Any]:
    kind = str(spec.get("type") or "text")
    decl: dict[str, Any] = {"type": SLOT_TYPES.get(kind, "any")}
    if kind not in SLOT_TYPES:
        notes.append(f"slot {slot} ({where}): type {kind} has no fancare equivalent; declared as any")
    if kind == "categorical":
        decl["values"] = [str(v) for v in spec.get("values") or [] if str(v) != "__other__"]
    if "initial_value" in spec and spec["initial_value"] is not None:
        notes.append(f"slot {slot} ({where}): initial_value {spec['initial_value']!r} is not translated")
    return decl


def _form_flow(form: str, spec: dict[str, Any], info: _Form, dom: _Domain, td: TrainingData,
               notes: list[str], slots: dict[str, dict[str, Any]]) -> dict[str, Any]:
    where = dom.origin.get(f"form:{form}", "domain.yml")
    steps: list[dict[str, Any]] = []
    preset: list[dict[str, Any]] = []
    names = []
    if spec.get("ignored_intents"):
        notes.append(f"form {form} ({where}): ignored_intents is not translated; fancare's digression "
                     "handling decides what interrupts a flow")
    for slot, form_mappings in _required_slots(spec):
        names.append(slot)
        if slot not in dom.slots:
            notes.append(f"form {form} ({where}): slot {slot} is not declared in the domain; declared as text")
        slot_spec = dom.slots.get(slot, {"type": "text"})
        slot_where = dom.origin.get(f"slot:{slot}", where)
        mappings = form_mappings if form_mappings is not None else \
            [m for m in slot_spec.get("mappings") or [] if isinstance(m, dict)]
        steps.append(_collect(form, slot, mappings, slot_spec, dom, td, slot_where, notes))
        for m in mappings:
            if m.get("type") != "from_trigger_intent":
                continue
            wanted = m.get("intent")
            wanted = [wanted] if isinstance(wanted, str) else list(wanted or [])
            if len(info.triggers) == 1 and (not wanted or info.triggers[0] in wanted) and "value" in m:
                preset.append({slot: m["value"]})
            else:
                notes.append(f"slot {slot} ({slot_where}): the from_trigger_intent mapping is not translated "
                             "(it needs the flow to have exactly that one trigger intent)")
        slots[slot] = _slot_decl(slot, slot_spec, slot_where, notes)
    if preset:
        steps.insert(0, {"set_slots": preset})
    validator = f"validate_{form}"
    if validator in dom.actions:
        steps.append({"action": validator})
        notes.append(f"form {form} ({where}): {validator} runs once after all slots are collected (Rasa ran it "
                     "after every answer and could re-ask); move per-slot checks to `validate:` where you can")
    for action in info.submit or []:
        steps.append({"action": action})
    flow: dict[str, Any] = {"description": f"Imported from the Rasa form {form} (collects {', '.join(names)})."}
    if info.triggers:
        flow["nlu_trigger"] = [{"intent": i} for i in info.triggers]
    else:
        notes.append(f"form {form} ({where}): no rule starts it; add an nlu_trigger, or `call`/`link` the flow")
    flow["steps"] = steps
    return flow


# --- the project ----------------------------------------------------------------------------------


def flows_from_rasa(project_dir: str | Path) -> tuple[dict[str, Any], list[str]]:
    """The flows document for a Rasa 3.x project, and the notes on what was not translated."""
    root = Path(project_dir)
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise DataError("no data/ directory: not a Rasa project", root)
    dom = _read_domain(root)
    notes: list[str] = []
    story_notes: list[str] = []
    td = TrainingData()
    rules: list[tuple[str, str, dict[str, Any]]] = []  # (file, name, rule)
    for f in yaml_files(data_dir):
        raw = load_yaml(f) or {}
        if not isinstance(raw, dict):
            continue
        name = f.relative_to(data_dir).as_posix()
        if "nlu" in raw:
            td.merge(read_rasa_yaml(f))
        for r in raw.get("rules") or []:
            if isinstance(r, dict):
                rules.append((name, str(r.get("rule", "?")), r))
            else:
                notes.append(f"rule {r!r} ({name}): not a mapping; not translated")
        if raw.get("stories"):
            story_notes.append(f"{len(raw['stories'])} stories ({name}): stories are not translated; write flows")

    forms = {f: _Form() for f in dom.forms}
    simple: dict[str, tuple[str, list[str]]] = {}  # intent -> (rule name, actions)
    later: list[tuple[str, str, str, list[str]]] = []  # simple rules, checked once all triggers are known
    for file, name, r in rules:
        kind = _classify(r, set(forms))
        if isinstance(kind, str):
            notes.append(f"rule '{name}' ({file}): not simple ({kind}); not translated"
                         + ("" if kind.endswith(BUILT_IN) else ", write a flow"))
            continue
        what, args = kind
        if what == "simple":
            later.append((file, name, args[0], args[1]))
            continue
        form = args[0] if what == "submit" else args[1]
        info = forms[form]
        if what == "activate" and args[0] not in info.triggers:
            info.triggers.append(args[0])
        actions = args[1] if what == "submit" else args[2]
        if actions is not None:
            if info.submit is not None and info.submit != actions:
                notes.append(f"rule '{name}' ({file}): another rule ('{info.submit_rule}') already says what "
                             f"follows {form}; not translated")
            else:
                info.submit, info.submit_rule = actions, name
    triggers = {i: f for f, info in forms.items() for i in info.triggers}
    for file, name, intent, actions in later:
        if intent in triggers:
            notes.append(f"rule '{name}' ({file}): intent {intent} already starts {triggers[intent]}; not translated")
        elif intent in simple:
            notes.append(f"rule '{name}' ({file}): rule '{simple[intent][0]}' already answers {intent}; "
                         "not translated")
        elif intent in forms:
            notes.append(f"rule '{name}' ({file}): a flow named {intent} comes from the form; not translated")
        else:
            simple[intent] = (name, actions)
    notes += story_notes

    flows: dict[str, dict[str, Any]] = {}
    slots: dict[str, dict[str, Any]] = {}
    for form, spec in dom.forms.items():
        flows[form] = _form_flow(form, spec, forms[form], dom, td, notes, slots)
    for intent, (name, actions) in simple.items():
        flows[intent] = {"description": f"Imported from the Rasa rule '{name}'.",
                         "nlu_trigger": [{"intent": intent}], "steps": [{"action": a} for a in actions]}

    used = {str(s["action"]) for f in flows.values() for s in f["steps"] if "action" in s}
    for a in sorted(a for a in used if a.startswith("utter_") and a not in dom.responses):
        notes.append(f"response {a}: a flow sends it but the domain has no such response; add it")
    called = sorted(a for a in used if not a.startswith("utter_"))
    idle = sorted(a for a in dom.actions if not a.startswith("utter_") and a not in dom.forms and a not in used)
    if called:
        notes.append(f"custom actions {', '.join(called)} ({dom.origin.get('action:' + called[0], 'rules')}): "
                     "their code is not translated; the flows call them on the Rasa action server (actions.url)")
    if idle:
        notes.append(f"custom actions {', '.join(idle)} ({dom.origin['action:' + idle[0]]}): no imported flow "
                     "calls them; not translated")
    unused = sorted(s for s in dom.slots if s not in slots)
    if unused:
        notes.append(f"slots {', '.join(unused)} ({dom.origin['slot:' + unused[0]]}): no imported flow uses "
                     "them; not translated")
    notes = list(dict.fromkeys(notes))  # a slot in two forms is reported once
    doc: dict[str, Any] = {"version": "1", "slots": dict(sorted(slots.items())),
                           "flows": dict(sorted(flows.items()))}
    return doc, notes


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as in docs/flows.md."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_flows(doc: dict[str, Any], source: str | Path | None = None) -> str:
    """Block-style YAML: keys in the document's order (flows and slots are already sorted)."""
    header = "# Flows imported from a Rasa project" + (f" ({source})" if source else "") \
        + " by `fancare data import-rasa`: review before serving.\n"
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120,
                              default_flow_style=False)
