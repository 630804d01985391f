"""Flows as data: the loader and checker for `dialogs/flows.yml` (format in docs/flows.md).

A flow is a list of steps (collect, action, set_slots, call, link, escalate) with `next` jumps and
if/then/else branches, modelled on Rasa's flows. Inline `then:` blocks are flattened into the flow's
step list at load, so the engine only ever follows step indices. Everything a trainer can get wrong
(unknown slots, responses, actions, flows or step ids; steps nothing reaches; loops that never wait
for the fan) is reported with file, line and key, by `fancare data validate` and at start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogs.conditions import Condition, ConditionError, parse_condition
from nlu.yamlfile import DataError, LocatedYaml, PathKey, load_located_file

END = "END"
STEP_KINDS = ("collect", "action", "set_slots", "call", "link", "escalate")
STEP_KEYS = {
    "collect": {"collect", "utter", "reask", "validate", "max_attempts", "on_give_up", "optional",
                "ask_before_filling", "prefill", "description", "leave_on_miss"},
    "action": {"action"},
    "set_slots": {"set_slots"},
    "call": {"call"},
    "link": {"link"},
    "escalate": {"escalate", "utter"},
}
COMMON_KEYS = {"id", "next"}
SLOT_TYPES = ("text", "bool", "float", "categorical", "any")
VALIDATE_KINDS = ("entity", "regex", "lookup", "choices", "text")
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class SlotDef:
    name: str
    type: str = "any"
    values: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Validation:
    kind: str | None = None  # entity | regex | lookup | choices | text | None (any non-empty text)
    entity: str | None = None
    pattern: re.Pattern[str] | None = None
    values: tuple[str, ...] = ()
    choices: tuple[tuple[str, Any], ...] = ()  # (title, value)
    normalise: str | None = None
    min_words: int = 1


@dataclass(frozen=True)
class Branch:
    condition: Condition | None  # None: else
    target: str  # a step id or END


@dataclass
class Step:
    kind: str  # one of STEP_KINDS, or "noop" (a step with only id/next)
    index: int
    id: str
    line: int | None
    slot: str | None = None
    utter: str | None = None
    reask: str | None = None
    validate: Validation = field(default_factory=Validation)
    max_attempts: int | None = None
    on_give_up: str | None = None
    optional: bool = False
    ask_before_filling: bool = False
    prefill_min_words: int | None = None
    leave_on_miss: bool = False
    action: str | None = None
    set_slots: dict[str, Any] = field(default_factory=dict)
    flow: str | None = None  # call / link target
    queue: str | None = None
    priority: str | None = None
    next: str | list[Branch] | None = None  # resolved by the loader: never None afterwards

    def targets(self) -> list[str]:
        if isinstance(self.next, list):
            return [b.target for b in self.next]
        return [self.next] if self.next else []


@dataclass
class Trigger:
    intent: str
    confidence: float | None = None


@dataclass
class Flow:
    id: str
    description: str
    name: str
    steps: list[Step]
    triggers: list[Trigger] = field(default_factory=list)
    kb_tags: tuple[str, ...] = ()
    file: str = ""
    line: int | None = None
    by_id: dict[str, int] = field(default_factory=dict)
    #: intents that, while this flow waits for an answer, are the fan's words about this task (noted for
    #: the person it goes to, the question asked again), not a new task: "because it arrived broken"
    #: (complaint) at the refund's proof question
    notes: tuple[str, ...] = ()

    def step(self, ref: str | int) -> Step:
        return self.steps[ref if isinstance(ref, int) else self.by_id[ref]]

    def collects(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "collect"]


@dataclass
class FlowSet:
    flows: dict[str, Flow] = field(default_factory=dict)
    slots: dict[str, SlotDef] = field(default_factory=dict)
    problems: list[DataError] = field(default_factory=list)
    #: responses written next to the flows (a flows file may carry `responses:` like a domain file)
    responses: dict[str, Any] = field(default_factory=dict)
    response_lines: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    def for_intent(self, intent: str, confidence: float = 1.0) -> Flow | None:
        """The flow an intent starts (first declared wins), honouring per-trigger thresholds."""
        for flow in self.flows.values():
            for t in flow.triggers:
                if t.intent == intent and (t.confidence is None or confidence >= t.confidence):
                    return flow
        return None

    def trigger_intents(self) -> set[str]:
        return {t.intent for f in self.flows.values() for t in f.triggers}


class _Reader:
    """Reads one flows file into a FlowSet, collecting problems instead of stopping at the first."""

    def __init__(self, located: LocatedYaml, out: FlowSet) -> None:
        self.y = located
        self.out = out

    def err(self, message: str, path: PathKey, key: str | None = None) -> None:
        self.out.problems.append(DataError(message, self.y.file, self.y.line_of(path), key))

    def read(self) -> None:
        data = self.y.data
        if data is None:
            return
        if not isinstance(data, dict):
            self.err("top level must be a mapping with 'flows:'", ())
            return
        for key in data:
            if key not in ("version", "slots", "flows", "responses"):
                self.err("unknown key (expected version, slots, flows, responses)", (str(key),), str(key))
        if data.get("responses"):
            from dialogs.domain import parse_responses

            try:
                for name, variations in parse_responses(self.y).items():
                    if name in self.out.responses:
                        self.err("response defined twice", ("responses", name), name)
                    self.out.responses[name] = variations
                    self.out.response_lines[name] = (self.y.file, self.y.line_of(("responses", name)))
            except DataError as exc:
                self.out.problems.append(exc)
        for name, spec in (data.get("slots") or {}).items():
            self._slot(str(name), spec)
        flows = data.get("flows") or {}
        if not isinstance(flows, dict):
            self.err("'flows' must be a mapping of flow ids", ("flows",), "flows")
            return
        for fid, spec in flows.items():
            if str(fid) in self.out.flows:
                self.err("flow defined twice", ("flows", str(fid)), str(fid))
                continue
            flow = self._flow(str(fid), spec)
            if flow is not None:
                self.out.flows[flow.id] = flow

    def _slot(self, name: str, spec: Any) -> None:
        path: PathKey = ("slots", name)
        spec = spec or {}
        if not isinstance(spec, dict):
            self.err("a slot is a mapping (type:, values:)", path, name)
            return
        for k in spec:
            if k not in ("type", "values", "mappings", "influence_conversation", "initial_value"):
                self.err("unknown key", (*path, str(k)), f"{name}.{k}")
        typ = str(spec.get("type", "any"))
        if typ not in SLOT_TYPES:
            self.err(f"unknown slot type {typ!r} (one of {', '.join(SLOT_TYPES)})", (*path, "type"), f"{name}.type")
        values = tuple(str(v) for v in spec.get("values") or ())
        self.out.slots[name] = SlotDef(name, typ, values, self.y.line_of(path))

    def _flow(self, fid: str, spec: Any) -> Flow | None:
        path: PathKey = ("flows", fid)
        if not isinstance(spec, dict):
            self.err("a flow is a mapping with description and steps", path, fid)
            return None
        for k in spec:
            if k not in ("description", "name", "steps", "nlu_trigger", "kb_tags", "notes", "if", "persisted_slots"):
                self.err("unknown key", (*path, str(k)), f"{fid}.{k}")
        if not spec.get("description"):
            self.err("a flow needs a description (it is how the assistant names the task)", path, fid)
        raw_steps = spec.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            self.err("a flow needs a non-empty list of steps", (*path, "steps"), f"{fid}.steps")
            return None
        triggers: list[Trigger] = []
        for i, t in enumerate(spec.get("nlu_trigger") or []):
            tp = (*path, "nlu_trigger", i)
            if isinstance(t, dict) and isinstance(t.get("intent"), str):
                triggers.append(Trigger(t["intent"]))
            elif isinstance(t, dict) and isinstance(t.get("intent"), dict) and t["intent"].get("name"):
                conf = t["intent"].get("confidence_threshold")
                triggers.append(Trigger(str(t["intent"]["name"]), float(conf) if conf is not None else None))
            else:
                self.err("a trigger is '- intent: NAME' or '- intent: {name: NAME, confidence_threshold: 0.6}'",
                         tp, f"{fid}.nlu_trigger[{i}]")
        notes = spec.get("notes") or []
        if not isinstance(notes, list) or not all(isinstance(n, str) and n for n in notes):
            self.err("notes is a list of intent names ([complaint])", (*path, "notes"), f"{fid}.notes")
            notes = []
        flow = Flow(fid, str(spec.get("description") or ""), str(spec.get("name") or fid.replace("_", " ")),
                    [], triggers, tuple(str(t) for t in spec.get("kb_tags") or ()), self.y.file, self.y.line_of(path),
                    notes=tuple(notes))
        self._block(flow, raw_steps, (*path, "steps"), top=True)
        for s in flow.steps:
            if s.next is None:
                s.next = END
        return flow

    def _block(self, flow: Flow, raw: list[Any], path: PathKey, top: bool) -> str | None:
        """Append a list of steps; return the id of its first step. Steps chain to the next one;
        the last step of an inline `then:` block ends the flow unless it says `next:`."""
        first: str | None = None
        prev: Step | None = None
        for i, item in enumerate(raw):
            sp = (*path, i)
            step = self._step(flow, item, sp)
            if step is None:
                continue
            if first is None:
                first = step.id
            if prev is not None and prev.next is None:
                prev.next = step.id
            prev = step
        if prev is not None and prev.next is None:
            prev.next = END
        return first

    def _step(self, flow: Flow, item: Any, path: PathKey) -> Step | None:
        key = f"{flow.id}.steps"
        if not isinstance(item, dict):
            self.err("a step is a mapping (collect:, action:, ...)", path, key)
            return None
        kinds = [k for k in STEP_KINDS if k in item]
        if len(kinds) > 1:
            self.err(f"a step has one of {', '.join(STEP_KINDS)}; this one has {', '.join(kinds)}", path, key)
            return None
        kind = kinds[0] if kinds else "noop"
        allowed = COMMON_KEYS | STEP_KEYS.get(kind, set())
        for k in item:
            if k not in allowed:
                self.err(f"unknown key for a {kind} step", (*path, str(k)), f"{key}.{k}")
        if kind == "noop" and "next" not in item:
            self.err(f"a step needs one of {', '.join(STEP_KINDS)} or a 'next'", path, key)
            return None
        index = len(flow.steps)
        sid = str(item.get("id") or f"steps[{index}]")
        if sid in flow.by_id:
            self.err(f"step id {sid!r} used twice in flow {flow.id!r}", (*path, "id"), f"{key}.id")
        step = Step(kind=kind, index=index, id=sid, line=self.y.line_of(path))
        flow.steps.append(step)
        flow.by_id[sid] = index
        if kind == "collect":
            self._collect(flow, step, item, path)
        elif kind == "action":
            step.action = str(item["action"])
        elif kind == "set_slots":
            raw = item["set_slots"]
            pairs = raw if isinstance(raw, list) else [raw]
            for j, p in enumerate(pairs):
                if not isinstance(p, dict):
                    self.err("set_slots is a list of '- slot: value'", (*path, "set_slots", j), f"{key}.set_slots")
                    continue
                step.set_slots.update({str(k): v for k, v in p.items()})
        elif kind in ("call", "link"):
            step.flow = str(item[kind])
        elif kind == "escalate":
            esc = item["escalate"]
            if isinstance(esc, str):
                esc = {"queue": esc}
            if not isinstance(esc, dict) or not esc.get("queue"):
                self.err("escalate needs a queue: '{queue: refunds, priority: normal}'", (*path, "escalate"),
                         f"{key}.escalate")
                esc = {"queue": "general"}
            step.queue = str(esc["queue"])
            step.priority = str(esc["priority"]) if esc.get("priority") else None
            if step.priority is not None and step.priority not in PRIORITIES:
                self.err(f"priority must be one of {', '.join(PRIORITIES)}", (*path, "escalate"), f"{key}.escalate")
            step.utter = str(item["utter"]) if item.get("utter") else None
        if "next" in item:
            step.next = self._next(flow, item["next"], (*path, "next"))
        return step

    def _collect(self, flow: Flow, step: Step, item: dict[str, Any], path: PathKey) -> None:
        key = f"{flow.id}.steps"
        step.slot = str(item["collect"])
        step.utter = str(item["utter"]) if item.get("utter") else None
        step.reask = str(item["reask"]) if item.get("reask") else None
        step.on_give_up = str(item["on_give_up"]) if item.get("on_give_up") else None
        step.optional = bool(item.get("optional", False))
        step.ask_before_filling = bool(item.get("ask_before_filling", False))
        step.leave_on_miss = bool(item.get("leave_on_miss", False))
        if item.get("max_attempts") is not None:
            try:
                step.max_attempts = max(1, int(item["max_attempts"]))
            except (TypeError, ValueError):
                self.err("max_attempts must be a whole number", (*path, "max_attempts"), f"{key}.max_attempts")
        prefill = item.get("prefill")
        if prefill is not None:
            if isinstance(prefill, dict) and isinstance(prefill.get("min_words"), int):
                step.prefill_min_words = int(prefill["min_words"])
            else:
                self.err("prefill is {min_words: N}", (*path, "prefill"), f"{key}.prefill")
        v = item.get("validate")
        if v is None:
            return
        vp = (*path, "validate")
        if not isinstance(v, dict):
            self.err(f"validate is a mapping with one of {', '.join(VALIDATE_KINDS)}", vp, f"{key}.validate")
            return
        for k in v:
            if k not in (*VALIDATE_KINDS, "normalise", "min_words"):
                self.err("unknown key", (*vp, str(k)), f"{key}.validate.{k}")
        kinds = [k for k in VALIDATE_KINDS if k in v]
        if len(kinds) > 1:
            self.err(f"validate takes one of {', '.join(VALIDATE_KINDS)}", vp, f"{key}.validate")
        kind = kinds[0] if kinds else None
        normalise = str(v["normalise"]) if v.get("normalise") else None
        if normalise is not None and normalise not in NORMALISERS:
            self.err(f"unknown normaliser (known: {', '.join(sorted(NORMALISERS))})", (*vp, "normalise"),
                     f"{key}.validate.normalise")
        min_words = int(v.get("min_words") or 1)
        if kind == "entity":
            step.validate = Validation("entity", entity=str(v["entity"]), normalise=normalise)
        elif kind == "regex":
            try:
                pattern = re.compile(str(v["regex"]), re.IGNORECASE)
            except re.error as exc:
                self.err(f"bad regex: {exc}", (*vp, "regex"), f"{key}.validate.regex")
                pattern = re.compile(r"(?!)")
            step.validate = Validation("regex", pattern=pattern, normalise=normalise)
        elif kind == "lookup":
            values = v["lookup"]
            if not isinstance(values, list) or not values:
                self.err("lookup is a non-empty list of values", (*vp, "lookup"), f"{key}.validate.lookup")
                values = []
            step.validate = Validation("lookup", values=tuple(str(x) for x in values), normalise=normalise)
        elif kind == "choices":
            raw = v["choices"]
            choices: list[tuple[str, Any]] = []
            for j, c in enumerate(raw if isinstance(raw, list) else []):
                if isinstance(c, dict) and "title" in c:
                    choices.append((str(c["title"]), c.get("value", c["title"])))
                elif isinstance(c, str | int | float | bool):
                    choices.append((str(c), c))
                else:
                    self.err("a choice is '- {title: Yes, value: true}' or a plain value",
                             (*vp, "choices", j), f"{key}.validate.choices[{j}]")
            if not choices:
                self.err("choices is a non-empty list", (*vp, "choices"), f"{key}.validate.choices")
            step.validate = Validation("choices", choices=tuple(choices), normalise=normalise)
        elif kind == "text":
            step.validate = Validation("text", normalise=normalise, min_words=min_words)
        else:
            step.validate = Validation(None, normalise=normalise, min_words=min_words)

    def _next(self, flow: Flow, raw: Any, path: PathKey) -> str | list[Branch]:
        key = f"{flow.id}.next"
        if isinstance(raw, str):
            return raw
        if not isinstance(raw, list) or not raw:
            self.err("next is a step id, END, or a list of '- if: ... then: ...' and '- else: ...'", path, key)
            return END
        branches: list[Branch] = []
        for j, b in enumerate(raw):
            bp = (*path, j)
            if not isinstance(b, dict) or not ({"if", "else"} & set(b)):
                self.err("a branch is '- if: CONDITION' with 'then:', or '- else: ...'", bp, key)
                continue
            if "else" in b:
                target = self._target(flow, b["else"], (*bp, "else"))
                branches.append(Branch(None, target))
                if j != len(raw) - 1:
                    self.err("'else' must be the last branch", bp, key)
                continue
            try:
                cond = parse_condition(str(b["if"]))
            except ConditionError as exc:
                self.err(str(exc), (*bp, "if"), f"{key}.if")
                continue
            if "then" not in b:
                self.err("an 'if' branch needs 'then:'", bp, key)
                continue
            branches.append(Branch(cond, self._target(flow, b["then"], (*bp, "then"))))
        if branches and branches[-1].condition is not None:
            branches.append(Branch(None, END))  # no branch applies: the flow ends, as in Rasa
        return branches

    def _target(self, flow: Flow, raw: Any, path: PathKey) -> str:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, list) and raw:
            first = self._block(flow, raw, path, top=False)
            return first or END
        self.err("a branch goes to a step id, END, or an inline list of steps", path, f"{flow.id}.next")
        return END


def _normalise_order_number(text: str) -> str | None:
    from bot.orders import normalise_order_number

    return normalise_order_number(text)


_STARS = r"(?:stars?|sterne?|estrellas?|[ée]toiles?|stelle|estrelas?|sterren|gwiazdk[ai]|yıldız|⭐+|★+)"
_OUT_OF = r"(?:/\s*5|out of 5|of 5|de 5|von 5|sur 5|su 5|van 5|na 5)"
_RATING_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4,
    "cinco": 5, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "un": 1, "une": 1, "deux": 2, "trois": 3,
    "quatre": 4, "cinq": 5, "due": 2, "tre": 3, "quattro": 4, "um": 1, "duas": 2, "três": 3, "quatro": 4,
}


def _normalise_rating(text: str) -> str | None:
    """'5', '4 stars', '3/5', '⭐⭐⭐⭐', 'five', '5 Sterne', 'I'd give it a 5, Dana was great' -> '1'..'5'."""
    t = text.strip().lower()
    m = re.fullmatch(r'\W*(?:/csat\{"rating":\s*"?)?([1-5])\s*' + _OUT_OF + r"?\s*" + _STARS + r'?\W*', t)
    if m:
        return m.group(1)
    stars = re.fullmatch(r"\s*([⭐★]\ufe0f?\s*){1,5}", t)
    if stars:
        return str(len(re.findall(r"[⭐★]", t)))
    m = re.fullmatch(r"\W*(\w+)\s*" + _STARS + r"?\W*", t)
    if m and m.group(1) in _RATING_WORDS:
        return str(_RATING_WORDS[m.group(1)])
    # a digit in a short sentence about the rating ("I'd give it a 5", "4 stars, thanks Dana")
    rated = re.search(r"\b(?:give|gave|rate|rating|score|out of)\b|" + _STARS + "|" + _OUT_OF, t)
    digits = re.findall(r"(?<![\w.,/-])([1-5])(?![\w.,]\d|\d)", t)
    if rated and len(set(digits)) == 1 and len(t.split()) <= 12:
        return digits[0]
    return None


NORMALISERS = {"order_number": _normalise_order_number, "rating": _normalise_rating,
               "upper": lambda t: t.strip().upper() or None,
               "lower": lambda t: t.strip().lower() or None}


def load_flows(paths: Iterable[str | Path], *, responses: set[str] | None = None, actions: set[str] | None = None,
               remote_actions: bool = False, intents: set[str] | None = None, strict: bool = True) -> FlowSet:
    """Load flow files (a folder: every *.yml in it) and check them. `strict`: raise the first problem."""
    out = FlowSet()
    for p in paths:
        p = Path(p)
        files = sorted([*p.glob("*.yml"), *p.glob("*.yaml")]) if p.is_dir() else [p]
        for f in files:
            try:
                located = load_located_file(f)
            except DataError as exc:
                out.problems.append(exc)
                continue
            _Reader(located, out).read()
    if responses is not None:
        for name in sorted(set(out.responses) & set(responses)):
            file, line = out.response_lines.get(name, (None, None))
            out.problems.append(DataError("response already defined in the domain", file, line, name))
        responses = set(responses) | set(out.responses)
    check_flows(out, responses=responses, actions=actions, remote_actions=remote_actions, intents=intents)
    if strict and out.problems:
        raise out.problems[0]
    return out


def check_flows(fs: FlowSet, *, responses: set[str] | None = None, actions: set[str] | None = None,
                remote_actions: bool = False, intents: set[str] | None = None) -> list[DataError]:
    """Cross-references and graph checks; problems are appended to `fs.problems` and returned."""
    found: list[DataError] = []

    def err(flow: Flow, step: Step | None, message: str, key: str) -> None:
        found.append(DataError(message, flow.file, step.line if step else flow.line, key))

    for flow in fs.flows.values():
        for t in flow.triggers:
            if intents is not None and t.intent not in intents:
                err(flow, None, f"trigger intent {t.intent!r} is not in the training data", f"{flow.id}.nlu_trigger")
        for intent in flow.notes:
            if intents is not None and intent not in intents:
                err(flow, None, f"notes intent {intent!r} is not in the training data", f"{flow.id}.notes")
        for s in flow.steps:
            key = f"{flow.id}.{s.id}"
            if s.slot is not None and s.slot not in fs.slots:
                err(flow, s, f"unknown slot {s.slot!r} (declare it under slots:)", key)
            for name in s.set_slots:
                if name not in fs.slots:
                    err(flow, s, f"unknown slot {name!r} in set_slots (declare it under slots:)", key)
            if isinstance(s.next, list):
                for b in s.next:
                    if b.condition is None:
                        continue
                    for name in sorted(b.condition.slots):
                        if name not in fs.slots:
                            err(flow, s, f"unknown slot {name!r} in condition {b.condition.source!r}", key)
            for target in s.targets():
                if target != END and target not in flow.by_id:
                    err(flow, s, f"next goes to unknown step {target!r} (ids in this flow: "
                                 f"{', '.join(i for i in flow.by_id if not i.startswith('steps[')) or 'none'})", key)
            if s.kind in ("call", "link") and s.flow not in fs.flows:
                err(flow, s, f"{s.kind} to unknown flow {s.flow!r}", key)
            if s.kind == "action" and s.action is not None:
                if s.action.startswith("utter_"):
                    if responses is not None and s.action not in responses:
                        err(flow, s, f"unknown response {s.action!r} (not in the domain)", key)
                elif actions is not None and s.action not in actions and not remote_actions:
                    err(flow, s, f"unknown action {s.action!r} (not registered and no actions.url set)", key)
            for what, response in (("utter", s.utter), ("reask", s.reask), ("on_give_up", s.on_give_up)):
                if response and responses is not None and response not in responses:
                    err(flow, s, f"unknown response {response!r} in {what}", key)
            if s.kind == "collect" and not s.utter and responses is not None \
                    and f"utter_ask_{s.slot}" not in responses:
                err(flow, s, f"no question to ask: add 'utter:' or a response utter_ask_{s.slot}", key)
        found.extend(_graph_problems(flow))
    found.extend(_call_cycles(fs))
    fs.problems.extend(found)
    return found


def _graph_problems(flow: Flow) -> list[DataError]:
    """Steps nothing reaches, and loops that would run forever without waiting for the fan."""
    problems: list[DataError] = []
    if not flow.steps:
        return problems
    reach: set[int] = set()
    todo = [0]
    while todo:
        i = todo.pop()
        if i in reach:
            continue
        reach.add(i)
        for t in flow.steps[i].targets():
            if t in flow.by_id:
                todo.append(flow.by_id[t])
    for s in flow.steps:
        if s.index not in reach:
            problems.append(DataError("step is unreachable: no step's 'next' leads here", flow.file, s.line,
                                      f"{flow.id}.{s.id}"))
    # a cycle with no collect step in it never waits for the fan: the engine would spin
    colour: dict[int, int] = {}

    def visit(i: int, trail: list[int]) -> None:
        colour[i] = 1
        for t in flow.steps[i].targets():
            j = flow.by_id.get(t)
            if j is None:
                continue
            if colour.get(j) == 1:
                cycle = trail[trail.index(j):] if j in trail else [j]
                if not any(flow.steps[k].kind == "collect" for k in cycle):
                    s = flow.steps[j]
                    problems.append(DataError("loop without a 'collect' step: the flow would never wait for the fan",
                                              flow.file, s.line, f"{flow.id}.{s.id}"))
            elif colour.get(j) is None:
                visit(j, [*trail, j])
        colour[i] = 2

    for start in range(len(flow.steps)):
        if start not in colour:
            visit(start, [start])
    return problems


def _call_cycles(fs: FlowSet) -> list[DataError]:
    problems: list[DataError] = []
    calls = {f.id: {s.flow for s in f.steps if s.kind == "call" and s.flow} for f in fs.flows.values()}
    for start, flow in fs.flows.items():
        seen: set[str] = set()
        todo = list(calls.get(start, ()))
        while todo:
            n = todo.pop()
            if n == start:
                s = next(s for s in flow.steps if s.kind == "call")
                problems.append(DataError(f"flow {start!r} calls itself (through 'call:' steps)", flow.file, s.line,
                                          f"{start}.{s.id}"))
                break
            if n in seen or n is None:
                continue
            seen.add(n)
            todo.extend(calls.get(n, ()))
    return problems
