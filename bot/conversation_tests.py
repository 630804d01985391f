"""End-to-end conversation tests in YAML (`fancare test conversations`), in the spirit of Rasa's e2e
test cases: a fan's messages go through the real `Pipeline.handle`, and each step checks what the bot
did (reply texts, response names, slots, escalations, the KB article, operator actions).

```yaml
conversations:                 # or `test_cases:` (Rasa's name)
  - name: refund escalates     # or `test_case:`
    language: en               # optional, for the per-language summary (not sent to the pipeline)
    bot_language: en           # optional: every bot reply must be in this language (nlu.language's detector)
    user_id: fan-1             # optional (default derived from the name); display_name: default "Alex"
    steps:
      - user: "I want a refund"
      - bot: "order number"    # a reply of this turn contains it (case-insensitive); a list: each, in order
      - user: "VT-100200"
      - escalated: refunds
      - slot_was_set: {order_number: VT-100200}
```

Step keys (one per step): `user`, `button` (press the button with this title on the turn's last
reply that has buttons: its payload is sent as a press, `meta["button"]`, the way a channel sends
one; a `user` step that types `/intent` is ordinary text), `bot`, `bot_not`, `utter`, `no_reply`, `buttons`,
`intent`, `action`, `article`, `slot_was_set`, `slot_was_not_set`, `escalated`, `not_escalated`,
`operator` (`claim` / `reply` / `note` / `resolve` / `handback`, optional `as`), `bot_language` (the
turn's replies are in this language; as a conversation key it checks every turn). Replies with too
few words to tell a language (an order number, "5", a name) are not checked.

A turn is everything the fan's channel received since the last `user`/`button` step, including
what operator steps delivered after it. Every conversation runs on its own throwaway SQLite store
(copied from a migrated template), with a `Pipeline` that shares the app's loaded NLU model, KB,
domain, policy and moderator, so loading the model happens once per run.

Used by `fancare test conversations` (`conversations_command`) and from pytest:
`run_conversations(app, load_conversations([path]))`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import logging
import re
import sqlite3
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import select

from bot.channels.base import Incoming
from bot.operators import LocalInbox
from bot.store import Escalation, Store
from dialogs.domain import Outgoing
from nlu.yamlfile import DataError, LocatedYaml, load_located_file

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import FancareConfig
    from bot.pipeline import Pipeline
    from nlu.language import LanguageIdentifier

CHANNEL = "test"
DEFAULT_NAME = "Alex"
DEFAULT_OPERATOR = "operator"
DEFAULT_PATH = "tests/conversations"
REPLY_LANGUAGE_MIN = 0.3  # `bot_language`: the expected language's share of the detector's posterior

TURN_KEYS = ("user", "button")
CHECK_KEYS = ("bot", "bot_not", "utter", "no_reply", "buttons", "intent", "action", "article", "slot_was_set",
              "slot_was_not_set", "escalated", "not_escalated", "bot_language")
STEP_KEYS = (*TURN_KEYS, *CHECK_KEYS, "operator")
CASE_KEYS = ("name", "test_case", "description", "language", "bot_language", "user_id", "display_name", "steps")
TOP_KEYS = ("conversations", "test_cases", "version")
OPERATOR_ACTIONS = ("claim", "reply", "note", "resolve", "handback")
ESCALATION_KEYS = ("queue", "priority", "state")


class _AnyValue:
    def __repr__(self) -> str:
        return "<any non-empty value>"


ANY = _AnyValue()  # `slot_was_set: [name]`: the slot holds anything non-empty


# -- the file format -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    key: str
    value: Any  # normalised (see `_normalise`)
    raw: Any  # as written, for messages
    file: str
    line: int
    index: int  # 1-based position in the conversation's steps

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def describe(self) -> str:
        return f"{self.key}: {json.dumps(self.raw, ensure_ascii=False)}"


@dataclass
class ConversationCase:
    name: str
    file: str
    line: int
    steps: list[Step]
    language: str | None = None
    user_id: str = ""
    display_name: str = DEFAULT_NAME
    description: str | None = None
    bot_language: str | None = None  # every reply of every turn must be in this language

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def turns(self) -> int:
        return sum(s.key in TURN_KEYS for s in self.steps)


def conversation_files(paths: Iterable[str | Path]) -> list[Path]:
    """The `*.yml` / `*.yaml` files among `paths` (folders searched recursively), in a stable order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in (".yml", ".yaml"))
        elif p.is_file():
            out.append(p)
        else:
            raise DataError("no such file or directory", p)
    seen: set[Path] = set()
    unique = []
    for f in out:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    return unique


def load_conversations(paths: Iterable[str | Path]) -> list[ConversationCase]:
    """Every conversation test in `paths`. Raises `DataError` (file, line, key) on a malformed file."""
    cases: list[ConversationCase] = []
    for f in conversation_files(paths):
        cases += load_conversation_file(f)
    return cases


def load_conversation_file(path: str | Path) -> list[ConversationCase]:
    located = load_located_file(path)
    file = located.file
    data = located.data
    if data is None:
        return []
    if not isinstance(data, dict):
        raise DataError("top level must be a mapping with a 'conversations' (or 'test_cases') list", file, 1)
    for key in data:
        if key not in TOP_KEYS:
            raise DataError("unknown key (expected 'conversations' or 'test_cases')", file,
                            located.line_of((str(key),)), str(key))
    if "conversations" in data and "test_cases" in data:
        raise DataError("use either 'conversations' or 'test_cases', not both", file,
                        located.line_of(("test_cases",)), "test_cases")
    top = "conversations" if "conversations" in data else "test_cases"
    if top not in data:
        raise DataError("no 'conversations' (or 'test_cases') list", file, 1)
    items = data[top]
    if items is None:
        return []
    if not isinstance(items, list):
        raise DataError("must be a list of conversations", file, located.line_of((top,)), top)
    cases: list[ConversationCase] = []
    names: dict[str, int] = {}
    for i, item in enumerate(items):
        case = _load_case(located, top, i, item)
        if case.name in names:
            raise DataError(f"duplicate conversation name (first at line {names[case.name]})", file, case.line,
                            f"{top}[{i}].name")
        names[case.name] = case.line
        cases.append(case)
    return cases


def _load_case(located: LocatedYaml, top: str, i: int, item: Any) -> ConversationCase:
    file = located.file
    path: tuple[str | int, ...] = (top, i)
    where = f"{top}[{i}]"
    line = located.line_of(path) or 1
    if not isinstance(item, dict):
        raise DataError("a conversation must be a mapping with 'name' and 'steps'", file, line, where)
    for key in item:
        if key not in CASE_KEYS:
            raise DataError(f"unknown key (expected one of {', '.join(CASE_KEYS)})", file,
                            located.line_of((*path, str(key))), f"{where}.{key}")
    if "name" in item and "test_case" in item:
        raise DataError("use either 'name' or 'test_case', not both", file, located.line_of((*path, "test_case")),
                        f"{where}.test_case")
    name_key = "test_case" if "test_case" in item else "name"
    name = item.get(name_key)
    if not isinstance(name, str | int | float) or isinstance(name, bool) or not str(name).strip():
        raise DataError("a conversation needs a 'name'", file, located.line_of((*path, name_key)),
                        f"{where}.{name_key}")
    name = str(name).strip()
    for key in ("language", "user_id", "display_name", "description"):
        v = item.get(key)
        if v is not None and (not isinstance(v, str | int) or isinstance(v, bool) or not str(v).strip()):
            raise DataError("must be a non-empty string", file, located.line_of((*path, key)), f"{where}.{key}")
    raw_steps = item.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise DataError("a conversation needs a non-empty 'steps' list", file,
                        located.line_of((*path, "steps")), f"{where}.steps")
    steps = [_load_step(located, (*path, "steps", j), f"{where}.steps[{j}]", j + 1, s)
             for j, s in enumerate(raw_steps)]
    if not any(s.key in TURN_KEYS for s in steps):
        raise DataError("a conversation needs at least one 'user' step", file, located.line_of((*path, "steps")),
                        f"{where}.steps")
    user_id = str(item["user_id"]) if item.get("user_id") is not None else _default_user(name)
    bot_language = None
    if item.get("bot_language") is not None:
        try:
            bot_language = _language_code(item["bot_language"])
        except _BadValue as exc:
            raise DataError(exc.message, file, located.line_of((*path, "bot_language")),
                            f"{where}.bot_language") from None
    return ConversationCase(name=name, file=file, line=line, steps=steps, bot_language=bot_language,
                            language=str(item["language"]) if item.get("language") is not None else None,
                            user_id=user_id, display_name=str(item.get("display_name") or DEFAULT_NAME),
                            description=str(item["description"]) if item.get("description") else None)


def _default_user(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return f"fan-{slug}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def _load_step(located: LocatedYaml, path: tuple[str | int, ...], where: str, index: int, raw: Any) -> Step:
    file = located.file
    line = located.line_of(path) or 1
    if not isinstance(raw, dict) or len(raw) != 1:
        found = f"found {', '.join(map(str, raw))}" if isinstance(raw, dict) and raw else "found none"
        raise DataError(f"a step is a mapping with exactly one key, e.g. `- user: hi` ({found})"
                        if isinstance(raw, dict) else "a step is a mapping with one key, e.g. `- user: hi`",
                        file, line, where)
    key, value = next(iter(raw.items()))
    key = str(key)
    kpath = (*path, key)
    kline = located.line_of(kpath) or line
    if key not in STEP_KEYS:
        raise DataError(f"unknown step key (expected one of {', '.join(STEP_KEYS)})", file, kline, f"{where}.{key}")
    try:
        norm = _normalise(key, value)
    except _BadValue as exc:
        sub = exc.subkey
        raise DataError(exc.message, file, located.line_of((*kpath, sub)) if sub else kline,
                        f"{where}.{key}" + (f".{sub}" if sub else "")) from None
    return Step(key=key, value=norm, raw=value, file=file, line=kline, index=index)


class _BadValue(Exception):
    def __init__(self, message: str, subkey: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.subkey = subkey


def _text(value: Any, what: str = "a string") -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _BadValue(f"must be {what}")
    return str(value)


def _texts(value: Any, *, allow_empty: bool = False) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = [_text(v, "a string or a list of strings") for v in items]
    if not out and not allow_empty:
        raise _BadValue("must not be empty")
    return out


def _slots(value: Any) -> list[tuple[str, Any]]:
    """`name`, `{name: value}` or a list of either -> [(name, value or ANY)]."""
    items = value if isinstance(value, list) else [value]
    out: list[tuple[str, Any]] = []
    for it in items:
        if isinstance(it, dict):
            out += [(str(k), v) for k, v in it.items()]
        elif isinstance(it, str) and it.strip():
            out.append((it.strip(), ANY))
        else:
            raise _BadValue("must be a slot name, a {slot: value} mapping, or a list of them")
    if not out:
        raise _BadValue("must name at least one slot")
    return out


def _language_code(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z]{2}", value.strip()):
        raise _BadValue("must be a two-letter ISO 639-1 code such as es")
    return value.strip()


#: names that say nothing about a reply's language (the demo brand and its products)
NEUTRAL_WORDS = ("voltora", "buds", "pro", "pulse", "nova", "arc", "halo", "beam", "dock")


@functools.lru_cache(maxsize=1)
def _reply_identifier() -> LanguageIdentifier:
    """nlu.language's identifier in lingua's high-accuracy mode (a test can afford its 10 s and
    300 MB), blind to the brand's names."""
    from nlu.language import DEFAULT_LANGUAGES, LanguageIdentifier

    return LanguageIdentifier(DEFAULT_LANGUAGES, high_accuracy=True, ignore=NEUTRAL_WORDS)


def reply_language(text: str, expected: str | None = None) -> str | None:
    """The language of a bot reply, or None when the reply has too few words to tell (an order
    number, a rating "5", "VT-123456 ✅"). A reply counts as `expected` when that language gets at
    least `REPLY_LANGUAGE_MIN` of the detector's posterior with `expected` as the prior (as the
    conversation's language is for a fan's message): neighbours are close calls on a short sentence
    ("El pedido VT-482913 (Voltora Buds Pro) está enviado. Entrega prevista: ..." reads pt 0.66,
    es 0.33), a reply in another language is not (English "Thanks for your rating! We will share it
    with the team." to a German fan: de 0.04; with the prior 0.24)."""
    words = re.findall(r"[^\W\d_]{2,}", re.sub(r"\bVT-?\d+\b|#\d+", " ", text))
    if len(words) < 2:
        return None
    identifier = _reply_identifier()
    if expected is not None and identifier.scores(text, prior=expected).get(expected, 0.0) >= REPLY_LANGUAGE_MIN:
        return expected
    return identifier.detect(text, prior=expected)[0]


def _normalise(key: str, value: Any) -> Any:
    if key == "bot_language":
        return _language_code(value)
    if key in ("user", "button", "article", "action"):
        text = _text(value)
        if key != "user" and not text.strip():
            raise _BadValue("must not be empty")
        return text
    if key in ("bot", "bot_not", "utter"):
        return _texts(value)
    if key == "buttons":
        return _texts(value, allow_empty=True)
    if key == "no_reply":
        if not isinstance(value, bool):
            raise _BadValue("must be true (nothing sent) or false (something sent)")
        return value
    if key == "not_escalated":
        if value is not True:
            raise _BadValue("must be true (use `escalated:` to expect an escalation)")
        return True
    if key in ("slot_was_set", "slot_was_not_set"):
        return _slots(value)
    if key == "intent":
        if isinstance(value, dict):
            extra = set(map(str, value)) - {"name", "min_confidence"}
            if extra:
                raise _BadValue("unknown key (expected name, min_confidence)", sorted(extra)[0])
            conf = value.get("min_confidence")
            if conf is not None and (isinstance(conf, bool) or not isinstance(conf, int | float)):
                raise _BadValue("must be a number", "min_confidence")
            return {"name": _text(value.get("name"), "an intent name"), "min_confidence": conf}
        return {"name": _text(value, "an intent name or {name, min_confidence}"), "min_confidence": None}
    if key == "escalated":
        if value is True:
            return {}
        if isinstance(value, str) and value.strip():
            return {"queue": value.strip()}
        if isinstance(value, dict):
            extra = set(map(str, value)) - set(ESCALATION_KEYS)
            if extra:
                raise _BadValue(f"unknown key (expected {', '.join(ESCALATION_KEYS)})", sorted(extra)[0])
            return {str(k): _text(v) for k, v in value.items()}
        raise _BadValue("must be true, a queue name, or {queue, priority, state}")
    if key == "operator":
        return _operator(value)
    raise _BadValue("unknown step key")  # pragma: no cover - STEP_KEYS is checked before


def _operator(value: Any) -> dict[str, Any]:
    if isinstance(value, str) and value in ("claim", "resolve", "handback"):
        return {"do": value, "as": DEFAULT_OPERATOR}
    if not isinstance(value, dict):
        raise _BadValue("must be a mapping such as {claim: true, as: dana} or {reply: \"text\"}")
    extra = set(map(str, value)) - {*OPERATOR_ACTIONS, "as"}
    if extra:
        raise _BadValue(f"unknown key (expected one of {', '.join(OPERATOR_ACTIONS)}, as)", sorted(extra)[0])
    actions = [a for a in OPERATOR_ACTIONS if a in value]
    if len(actions) != 1:
        raise _BadValue(f"needs exactly one of {', '.join(OPERATOR_ACTIONS)}")
    do = actions[0]
    out: dict[str, Any] = {"do": do, "as": _text(value.get("as", DEFAULT_OPERATOR))}
    if do in ("reply", "note"):
        text = _text(value[do])
        if not text.strip():
            raise _BadValue("must not be empty", do)
        out["text"] = text
    elif value[do] is not True:
        raise _BadValue("must be true", do)
    return out


# -- running -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """One message the fan's channel received."""

    text: str
    response: str | None = None
    buttons: tuple[str, ...] = ()
    payloads: tuple[str, ...] = ()
    operator: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"text": self.text, "response": self.response}
        if self.buttons:
            d["buttons"] = list(self.buttons)
        if self.operator:
            d["operator"] = self.operator
        return d


@dataclass
class StepFailure:
    step: Step
    expected: str
    actual: str
    turn: dict[str, Any] = field(default_factory=dict)  # what the bot did in that turn (see `_Session.snapshot`)


@dataclass
class CaseResult:
    case: ConversationCase
    passed: bool
    turns_run: int
    seconds: float
    failure: StepFailure | None = None
    error: str | None = None  # an unexpected exception in the runner (not a wrong answer)

    def as_dict(self) -> dict[str, Any]:
        f = self.failure
        return {
            "name": self.case.name, "file": self.case.file, "line": self.case.line, "language": self.case.language,
            "passed": self.passed, "turns": self.case.turns, "turns_run": self.turns_run,
            "seconds": round(self.seconds, 3),
            "failed_step": {"index": f.step.index, "file": f.step.file, "line": f.step.line, "key": f.step.key,
                            "value": f.step.raw} if f else None,
            "expected": f.expected if f else None,
            "actual": f.actual if f else None,
            "turn": f.turn if f else None,
            "error": self.error,
        }


class RecordingChannel:
    """A `Channel` that keeps what fancare sends (the conversation tests' fan side)."""

    def __init__(self, name: str = CHANNEL) -> None:
        self.name = name
        self.sent: list[Reply] = []

    async def send(self, chat_id: str, message: Outgoing, *, reply_to: str | None = None,
                   meta: dict[str, Any] | None = None) -> str | None:
        self.sent.append(Reply(text=message.text, response=message.response,
                               buttons=tuple(b.title for b in message.buttons),
                               payloads=tuple(b.payload for b in message.buttons),
                               operator=(meta or {}).get("operator")))
        return str(len(self.sent))


class _Inbox(LocalInbox):
    """The operator port for a test run: escalations stay in the store (operator steps act on them
    through `bot.inbox`); what the team would be told is kept in `events` for the failure report."""

    def __init__(self) -> None:
        self.events: list[str] = []
        super().__init__(notify=self.events.append)


# Pipeline attributes that belong to one pipeline (its store, channels, ports, counters, caches) or are
# bound to a store; everything else public that `App` set on its pipeline is shared (settings, loaded parts).
_OWN_ATTRIBUTES = frozenset({"store", "channels", "operators", "owner", "metrics", "last_debug", "engagement",
                             "playbook"})


def build_pipeline(app: App, store: Store) -> Pipeline:
    """A pipeline on `store` that shares `app`'s loaded parts (NLU model, KB, domain, policy, moderator)
    and settings (whatever public attribute `App` set on its pipeline, e.g. queue priorities), and wires
    the store-bound ones (engagement, crisis playbook) to `store`, as `App` does."""
    from bot.pipeline import Pipeline
    from dialogs.engagement import Engagement
    from moderation.playbook import CrisisPlaybook

    src = app.pipeline
    p = Pipeline(store, src.nlu, src.policy, src.domain, moderator=src.moderator, operators=_Inbox(),
                 queue_priority=dict(src.queue_priority), transcript_messages=src.transcript_messages)
    mine = vars(p)
    for name, value in vars(src).items():
        if not name.startswith("_") and name not in _OWN_ATTRIBUTES and name in mine:
            setattr(p, name, value)
    if src.engagement is not None:
        p.engagement = Engagement(store, src.domain)
    if src.playbook is not None:
        p.playbook = CrisisPlaybook.from_config(store, app.cfg)
    return p


PipelineFactory = Callable[["App", Store], "Pipeline"]


class _Stores:
    """Throwaway SQLite stores: the schema is migrated once into a template and copied per conversation."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"
        store = Store(f"sqlite:///{self.template}")
        store.migrate()
        store.dispose()
        self.n = 0

    def fresh(self) -> Store:
        self.n += 1
        path = self.folder / f"conversation-{self.n}.db"
        src, dst = sqlite3.connect(self.template), sqlite3.connect(path)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        return Store(f"sqlite:///{path}")

    @staticmethod
    def drop(store: Store) -> None:
        store.dispose()
        path = Path(store.url.removeprefix("sqlite:///"))
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)


class _StepFailed(Exception):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"expected {expected}; actual {actual}")
        self.expected = expected
        self.actual = actual


class _Session:
    """One conversation test against one pipeline: sends the fan's messages, runs operator actions,
    and checks each step against the current turn."""

    def __init__(self, case: ConversationCase, pipeline: Pipeline) -> None:
        self.case = case
        self.pipeline = pipeline
        self.store = pipeline.store
        self.channel = RecordingChannel()
        pipeline.add_channel(self.channel)
        self.conversation_id: int | None = None
        self.turns = 0
        self.user_text: str | None = None
        self.debug: dict[str, Any] = {}
        self.start = 0  # index in channel.sent where the current turn starts
        self.own = 0  # how many of the turn's messages answered the fan's message (before operator steps)

    @property
    def window(self) -> list[Reply]:
        return self.channel.sent[self.start:]

    async def say(self, text: str, *, button: bool = False) -> None:
        """Send `text` as the fan; `button=True` sends it as a press, the way a channel does."""
        self.turns += 1
        self.start = len(self.channel.sent)
        uid = self.case.user_id
        result = await self.pipeline.handle(Incoming(
            channel=CHANNEL, external_id=f"{uid}-{self.turns}", chat_id=f"{CHANNEL}:{uid}", user_id=uid,
            text=text, display_name=self.case.display_name, meta={"button": True} if button else {}))
        await self.pipeline.dispatch()
        self.conversation_id = result.conversation_id
        self.user_text = text
        self.debug = dict(result.debug or {})
        self.own = len(self.channel.sent) - self.start

    async def run(self, step: Step) -> None:
        """Perform or check `step`; raise `_StepFailed` when the bot did something else."""
        k, v = step.key, step.value
        if k == "user":
            await self.say(v)
        elif k == "button":
            await self.say(self._button_payload(v), button=True)
        elif k == "operator":
            await self._operator(v)
        else:
            check: Callable[[Any], None] = getattr(self, f"_check_{k}")
            check(v)

    # -- fan and operator actions ---------------------------------------------------------------------
    def _button_payload(self, title: str) -> str:
        with_buttons = [r for r in self.window if r.buttons]
        if not with_buttons:
            raise _StepFailed(f"a reply with a button {title!r}", f"no reply of this turn has buttons{self._texts()}")
        last = with_buttons[-1]
        for t, payload in zip(last.buttons, last.payloads, strict=True):
            if t.casefold() == title.casefold():
                return payload
        raise _StepFailed(f"a button {title!r}", f"buttons {list(last.buttons)}")

    async def _operator(self, v: dict[str, Any]) -> None:
        from bot import inbox

        escs = self.escalations()
        if not escs:
            raise _StepFailed(f"an escalation for the operator to {v['do']}", "no escalation for this fan")
        esc_id = escs[-1]["id"]
        who = v["as"]
        if v["do"] == "claim":
            res = inbox.claim(self.store, esc_id, who)
        elif v["do"] == "reply":
            res = inbox.reply(self.store, esc_id, who, v["text"])
        elif v["do"] == "note":
            res = inbox.note(self.store, esc_id, who, v["text"])
        else:
            res = inbox.close(self.store, self.pipeline.domain, esc_id, who,
                              "resolved" if v["do"] == "resolve" else "handed_back")
        if not res.ok:
            raise _StepFailed(f"the operator's {v['do']} on #{esc_id} to succeed", res.message)
        await self.pipeline.dispatch()

    # -- checks -----------------------------------------------------------------------------------------
    def _texts(self) -> str:
        w = self.window
        return ": " + "; ".join(json.dumps(r.text, ensure_ascii=False) for r in w) if w else ""

    def _sent(self) -> str:
        w = self.window
        if not w:
            return "the bot sent nothing"
        return "replies " + "; ".join(_reply_line(r) for r in w)

    def _check_bot(self, needles: list[str]) -> None:
        texts = [r.text for r in self.window]
        missing = _first_missing(texts, needles, lambda t, n: n.casefold() in t.casefold())
        if missing is not None:
            exp = f"a reply containing {missing!r}"
            if len(needles) > 1:
                exp += f" (expected in order: {needles})"
            raise _StepFailed(exp, self._sent())

    def _check_bot_language(self, language: str) -> None:
        """Every reply of this turn (the bot's, not an operator's) is in `language`."""
        for r in self.window:
            if r.operator:
                continue
            got = reply_language(r.text, language)
            if got is not None and got != language:
                raise _StepFailed(f"every reply in {language}", f"a reply in {got}: {_reply_line(r)}")

    def _check_bot_not(self, needles: list[str]) -> None:
        for r in self.window:
            for n in needles:
                if n.casefold() in r.text.casefold():
                    raise _StepFailed(f"no reply containing {n!r}", self._sent())

    def _check_utter(self, names: list[str]) -> None:
        responses = [r.response or "" for r in self.window]
        missing = _first_missing(responses, names, lambda r, n: r == n)
        if missing is not None:
            exp = f"a reply rendered from {missing!r}" + (f" (expected in order: {names})" if len(names) > 1 else "")
            raise _StepFailed(exp, self._sent())

    def _check_no_reply(self, expected_nothing: bool) -> None:
        own = self.channel.sent[self.start:self.start + self.own]
        if expected_nothing and own:
            raise _StepFailed("no reply to the last user message", self._sent())
        if not expected_nothing and not own:
            raise _StepFailed("a reply to the last user message", "the bot sent nothing")

    def _check_buttons(self, titles: list[str]) -> None:
        w = self.window
        if not w:
            raise _StepFailed(f"a last reply with buttons {titles}", "the bot sent nothing")
        have = list(w[-1].buttons)
        if not titles and have:
            raise _StepFailed("a last reply without buttons", f"buttons {have} on {_reply_line(w[-1])}")
        folded = [h.casefold() for h in have]
        missing = [t for t in titles if t.casefold() not in folded]
        if missing:
            raise _StepFailed(f"buttons {titles} on the last reply",
                              f"buttons {have} on {_reply_line(w[-1])}" if have else
                              f"no buttons on {_reply_line(w[-1])}")

    def _nlu(self) -> str:
        d = self.debug
        if not d:
            return "no NLU result"
        s = f"intent {d.get('intent')} ({d.get('confidence')})"
        return s + (", fallback" if d.get("fallback") else "")

    def _check_intent(self, v: dict[str, Any]) -> None:
        d = self.debug
        conf = d.get("confidence")
        if d.get("intent") != v["name"]:
            raise _StepFailed(f"intent {v['name']!r}", self._nlu())
        if v["min_confidence"] is not None and (conf is None or conf < v["min_confidence"]):
            raise _StepFailed(f"intent {v['name']!r} with confidence >= {v['min_confidence']}", self._nlu())

    def _check_action(self, needle: str) -> None:
        action = str(self.debug.get("action") or "")
        if needle not in action:
            raise _StepFailed(f"an action containing {needle!r}", f"action {action or None!r}")

    def _check_article(self, article: str) -> None:
        got = self.debug.get("article")
        if got != article:
            raise _StepFailed(f"an answer from article {article!r}",
                              f"article {got!r} (action {self.debug.get('action')!r})")

    def slots(self) -> dict[str, Any]:
        from bot.store import Conversation

        if self.conversation_id is None:
            return {}
        with self.store.session() as s:
            conv = s.get(Conversation, self.conversation_id)
            state = dict(conv.state or {}) if conv is not None else {}
        slots = state.get("slots")
        return dict(slots) if isinstance(slots, dict) else {}

    def _check_slot_was_set(self, expected: list[tuple[str, Any]]) -> None:
        slots = self.slots()
        for name, value in expected:
            have = slots.get(name)
            if value is ANY:
                if have in (None, "", [], {}):
                    raise _StepFailed(f"slot {name} set", f"slot {name} is {have!r}; slots {_compact(slots)}")
            elif not _same(have, value):
                raise _StepFailed(f"slot {name} = {value!r}", f"slot {name} = {have!r}; slots {_compact(slots)}")

    def _check_slot_was_not_set(self, expected: list[tuple[str, Any]]) -> None:
        slots = self.slots()
        for name, value in expected:
            have = slots.get(name)
            if value is ANY:
                if have not in (None, "", [], {}):
                    raise _StepFailed(f"slot {name} not set", f"slot {name} = {have!r}")
            elif _same(have, value):
                raise _StepFailed(f"slot {name} not {value!r}", f"slot {name} = {have!r}")

    def escalations(self) -> list[dict[str, Any]]:
        if self.conversation_id is None:
            return []
        with self.store.session() as s:
            rows = s.scalars(select(Escalation).where(Escalation.conversation_id == self.conversation_id)
                             .order_by(Escalation.id))
            return [{"id": e.id, "queue": e.queue, "priority": e.priority, "state": e.state,
                     "claimed_by": e.claimed_by, "csat": e.csat} for e in rows]

    def _check_escalated(self, want: dict[str, str]) -> None:
        escs = self.escalations()
        if not any(all(str(e.get(k)) == v for k, v in want.items()) for e in escs):
            what = ", ".join(f"{k} {v!r}" for k, v in want.items())
            raise _StepFailed("an escalation" + (f" with {what}" if what else ""),
                              _escalations_line(escs) if escs else "no escalation for this fan")

    def _check_not_escalated(self, _: bool) -> None:
        active = [e for e in self.escalations() if e["state"] in ("open", "claimed")]
        if active:
            raise _StepFailed("no open or claimed escalation", _escalations_line(active))

    def snapshot(self) -> dict[str, Any]:
        """What the bot did in the current turn, for the failure report."""
        d = self.debug
        return {"user": self.user_text, "intent": d.get("intent"), "confidence": d.get("confidence"),
                "fallback": d.get("fallback"), "language": d.get("language"), "entities": d.get("entities"),
                "action": d.get("action"), "article": d.get("article"), "moderation": d.get("moderation"),
                "replies": [r.as_dict() for r in self.window], "slots": self.slots(),
                "escalations": self.escalations(),
                "operator_events": list(getattr(self.pipeline.operators, "events", []))}


def _first_missing(items: list[str], needles: list[str], match: Callable[[str, str], bool]) -> str | None:
    """The first of `needles` not found in `items` at or after the previous one's match (in order)."""
    pos = 0
    for n in needles:
        j = next((k for k in range(pos, len(items)) if match(items[k], n)), None)
        if j is None:
            return n
        pos = j
    return None


def _same(have: Any, want: Any) -> bool:
    return have == want or (have is not None and want is not None and str(have) == str(want))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _reply_line(r: Reply) -> str:
    who = f"operator {r.operator}" if r.operator else (r.response or "-")
    s = f"[{who}] {json.dumps(_short(r.text), ensure_ascii=False)}"
    return s + (f" buttons {list(r.buttons)}" if r.buttons else "")


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _escalations_line(escs: list[dict[str, Any]]) -> str:
    return "; ".join(f"#{e['id']} {e['queue']} {e['priority']} {e['state']}" for e in escs)


async def run_case(case: ConversationCase, pipeline: Pipeline) -> CaseResult:
    """Run one conversation test on `pipeline` (whose store should be empty); stop at the first wrong step."""
    t0 = time.perf_counter()
    session = _Session(case, pipeline)
    for step in case.steps:
        try:
            await session.run(step)
            if case.bot_language and step.key in TURN_KEYS:
                session._check_bot_language(case.bot_language)
        except _StepFailed as exc:
            return CaseResult(case, False, session.turns, time.perf_counter() - t0,
                              StepFailure(step, exc.expected, exc.actual, session.snapshot()))
        except Exception as exc:  # noqa: BLE001 - reported as this conversation's error; the run goes on
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return CaseResult(case, False, session.turns, time.perf_counter() - t0,
                              StepFailure(step, "the step to run", f"error: {tb}", session.snapshot()), error=tb)
    return CaseResult(case, True, session.turns, time.perf_counter() - t0)


async def run_conversations(app: App, cases: Sequence[ConversationCase], *, fail_fast: bool = False,
                            pipeline_factory: PipelineFactory | None = None, workdir: str | Path | None = None,
                            on_result: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Run `cases`, each on a fresh SQLite store with a pipeline sharing `app`'s loaded parts
    (`build_pipeline`, or `pipeline_factory(app, store)`). `app`'s own store is never touched."""
    factory = pipeline_factory or build_pipeline
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="fancare-conversations-", dir=workdir) as tmp:
        stores = _Stores(Path(tmp))
        for case in cases:
            store = stores.fresh()
            try:
                result = await run_case(case, factory(app, store))
            finally:
                stores.drop(store)
            results.append(result)
            if on_result is not None:
                on_result(result)
            if fail_fast and not result.passed:
                break
    return results


# -- reporting -----------------------------------------------------------------------------------------
def summary(results: Sequence[CaseResult], total: int | None = None) -> dict[str, Any]:
    by_lang: dict[str, dict[str, int]] = {}
    for r in results:
        row = by_lang.setdefault(r.case.language or "unspecified", {"total": 0, "passed": 0, "failed": 0})
        row["total"] += 1
        row["passed" if r.passed else "failed"] += 1
    passed = sum(r.passed for r in results)
    n = len(results) if total is None else total
    return {"total": n, "passed": passed, "failed": len(results) - passed, "not_run": n - len(results),
            "seconds": round(sum(r.seconds for r in results), 3), "by_language": dict(sorted(by_lang.items()))}


def result_line(r: CaseResult, width: int = 50, where_width: int = 0) -> str:
    """`PASS   name   file:line   N turns` (one line of the pass/fail table)."""
    status = "PASS" if r.passed else ("ERROR" if r.error else "FAIL")
    name = r.case.name if len(r.case.name) <= width else r.case.name[: width - 1] + "…"
    turns = f"{r.case.turns} turn{'s' if r.case.turns != 1 else ''}"
    return f"{status:<5}  {name:<{width}}  {r.case.where:<{where_width}}  {turns}"


def format_failure(r: CaseResult) -> str:
    """The diff of a failed conversation's first wrong step: expected vs what the bot did."""
    f = r.failure
    if f is None:
        return ""
    t = f.turn
    lines = [f"{'ERROR' if r.error else 'FAIL'}: {r.case.name} ({r.case.where})",
             f"  step {f.step.index} at {f.step.where}: {f.step.describe()}",
             f"  expected: {f.expected}",
             f"  actual:   {f.actual}"]
    if t.get("user") is not None:
        lines.append(f"  last user message: {json.dumps(t['user'], ensure_ascii=False)}")
        nlu = f"intent {t.get('intent')} ({t.get('confidence')})" + (", fallback" if t.get("fallback") else "")
        ents = ", ".join(f"{e['entity']}={e['value']}" for e in t.get("entities") or [])
        lines.append(f"  nlu:      {nlu}" + (f"; entities {ents}" if ents else "")
                     + (f"; language {t['language']}" if t.get("language") else ""))
        lines.append(f"  action:   {t.get('action')}" + (f"; article {t['article']}" if t.get("article") else "")
                     + (f"; moderation {t['moderation']}" if t.get("moderation") not in (None, "allow") else ""))
    replies = t.get("replies") or []
    lines.append("  replies this turn:" + ("" if replies else " none"))
    for rep in replies:
        lines.append("    - " + _reply_line(Reply(rep["text"], rep.get("response"), tuple(rep.get("buttons") or ()),
                                                   operator=rep.get("operator"))))
    lines.append(f"  slots:    {_compact(t.get('slots') or {})}")
    escs = t.get("escalations") or []
    lines.append(f"  escalations: {_escalations_line(escs) if escs else 'none'}")
    events = t.get("operator_events") or []
    if events:
        lines.append(f"  operator inbox (so far): {'; '.join(events[-5:])}")
    return "\n".join(lines)


def write_reports(out: str | Path, results: Sequence[CaseResult], total: int | None = None) -> Path:
    """`results.json` and `junit.xml` in `out` (created); returns the folder."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    summ = summary(results, total)
    body = {"summary": summ, "conversations": [r.as_dict() for r in results]}
    (folder / "results.json").write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n",
                                         encoding="utf-8")
    suite = ET.Element("testsuite", name="conversations", tests=str(len(results)),
                       failures=str(sum(not r.passed and not r.error for r in results)),
                       errors=str(sum(bool(r.error) for r in results)), skipped="0", time=f"{summ['seconds']:.3f}")
    for r in results:
        tc = ET.SubElement(suite, "testcase", classname=Path(r.case.file).stem, name=r.case.name,
                           file=r.case.file, line=str(r.case.line), time=f"{r.seconds:.3f}")
        if not r.passed and r.failure is not None:
            f = r.failure
            el = ET.SubElement(tc, "error" if r.error else "failure",
                               message=f"step {f.step.index} ({f.step.where}) {f.step.describe()}: "
                                       f"expected {f.expected}; actual {f.actual}")
            el.text = format_failure(r)
    root = ET.Element("testsuites", name="fancare conversations", tests=suite.get("tests", "0"),
                      failures=suite.get("failures", "0"), errors=suite.get("errors", "0"),
                      time=suite.get("time", "0"))
    root.append(suite)
    ET.indent(root)
    ET.ElementTree(root).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    return folder


# -- the command -------------------------------------------------------------------------------------------
def conversations_command(cfg: FancareConfig, args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`fancare test conversations [PATHS] [--out DIR] [--fail-fast]`: 0 all passed, 1 a failure,
    2 a malformed test file (raised as `DataError`, reported by the CLI)."""
    out = out or sys.stdout
    paths = list(args.paths or [])
    if not paths:
        default = Path(DEFAULT_PATH)
        paths = [default if default.exists() else cfg.resolve(DEFAULT_PATH)]
    cases = load_conversations(paths)  # before loading the model: a malformed file fails fast
    if not cases:
        raise DataError("no conversation tests found", ", ".join(map(str, paths)))
    quiet = {name: logging.getLogger(name).level for name in ("fancare", "torch")}
    for name in quiet:  # the table is the output; INFO lines (escalation opened, ...) are noise
        logging.getLogger(name).setLevel(max(logging.getLogger(name).getEffectiveLevel(), logging.WARNING))
    try:
        return _run_command(cfg, args, cases, out)
    finally:
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)


def _run_command(cfg: FancareConfig, args: argparse.Namespace, cases: list[ConversationCase], out: TextIO) -> int:
    from bot.app import App

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fancare-conversations-app-") as tmp:
        app_cfg = cfg.model_copy(deep=True)
        app_cfg.store.url = f"sqlite:///{Path(tmp) / 'app.db'}"  # never the configured (production) store
        app = App(app_cfg)
        loaded = time.perf_counter() - t0
        width = min(max(len(c.name) for c in cases), 50)
        where_width = max(len(c.where) for c in cases)

        def show(r: CaseResult) -> None:
            out.write(result_line(r, width, where_width) + "\n")
            out.flush()

        try:
            results = asyncio.run(app.serving(run_conversations(app, cases, fail_fast=args.fail_fast,
                                                                      on_result=show)))
        finally:
            app.close()
    failed = [r for r in results if not r.passed]
    for r in failed:
        out.write("\n" + format_failure(r) + "\n")
    folder = write_reports(args.out, results, total=len(cases))
    s = summary(results, len(cases))
    langs = ", ".join(f"{k} {v['passed']}/{v['total']}" for k, v in s["by_language"].items())
    out.write(f"\n{s['passed']} passed, {s['failed']} failed" + (f", {s['not_run']} not run" if s["not_run"] else "")
              + f" (by language: {langs}) in {time.perf_counter() - t0:.1f} s (model {app.model.version}, "
              f"app ready in {loaded:.1f} s)\n")
    out.write(f"reports: {folder / 'results.json'}, {folder / 'junit.xml'}\n")
    out.flush()
    return 1 if failed else 0
