"""The crisis playbook: what fancare does differently while the brand is in a crisis.

Switched on and off by a community manager (`/fancare crisis on|off` in Slack, `fancare crisis on|off`
on the CLI), never automatically: an early-warning alert (moderation/crisis.py) only suggests it.
While it is on:

- a holding statement is posted and pinned in the brand's Telegram groups (unpinned when it is
  switched off), and every fan who complains gets it before the hand-off;
- every complaint is escalated to a human at once (no form first): in a crisis the care team wants
  every complaint in front of a person, and a form feels like a wall;
- public FAQ answers are paused: a cheerful knowledge-base answer under an angry thread reads as
  tone-deaf; private chats still get them.

The switch lives in the store (`runtime_settings`, key `crisis_playbook`), so every fancare
process follows it and a restart keeps it; each process re-reads it at most every `ttl_s` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.config import FancareConfig
from bot.store import Conversation, Store
from bot.store.models import utcnow
from bot.store.settings_models import RuntimeSetting
from dialogs.domain import Outgoing
from dialogs.policy import Decision, EscalationRequest, Turn
from moderation.actions import ModerationActions
from nlu.model import ParseResult

log = logging.getLogger("fancare.moderation.playbook")
KEY = "crisis_playbook"
PUBLIC_CHAT_TYPES = {"group", "supergroup", "channel"}
FORM_KEYS = ("form", "requested_slot", "attempts", "stack")  # the dialog stack: a human takes over
DEFAULT_STATEMENT = ("We're aware that some of you are having problems and we're looking into it right now. "
                     "We'll post updates here as soon as we know more. Thank you for your patience.")


@dataclass
class PlaybookState:
    on: bool = False
    since: str | None = None
    by: str | None = None
    statement: str = ""
    pinned: list[list[str]] = field(default_factory=list)  # [channel, chat_id, message_id]

    @classmethod
    def from_value(cls, value: Mapping[str, Any] | None) -> PlaybookState:
        v = dict(value or {})
        return cls(on=bool(v.get("on")), since=v.get("since"), by=v.get("by"), statement=str(v.get("statement") or ""),
                   pinned=[list(map(str, p)) for p in v.get("pinned") or []])

    def as_value(self) -> dict[str, Any]:
        return {"on": self.on, "since": self.since, "by": self.by, "statement": self.statement, "pinned": self.pinned}


class CrisisPlaybook:
    def __init__(self, store: Store, *, statement: str = DEFAULT_STATEMENT, pin_chats: list[str] | None = None,
                 escalate_intents: tuple[str, ...] = ("complaint", "refund_request"), queue: str = "complaints",
                 pause_public_faq: bool = True, ttl_s: float = 2.0) -> None:
        self.store = store
        self.statement = statement
        self.pin_chats = list(pin_chats or [])
        self.escalate_intents = set(escalate_intents)
        self.queue = queue
        self.pause_public_faq = pause_public_faq
        self.ttl_s = ttl_s
        self._cached: tuple[float, PlaybookState] | None = None

    @classmethod
    def from_config(cls, store: Store, cfg: FancareConfig) -> CrisisPlaybook:
        """As `moderation.crisis.playbook` in config.yml says (the app and `fancare crisis` alike)."""
        pb = cfg.moderation.crisis.playbook
        return cls(store, statement=pb.holding_statement, pin_chats=pb.pin_chats,
                   escalate_intents=tuple(pb.escalate_intents), queue=pb.queue, pause_public_faq=pb.pause_public_faq)

    # -- the switch ---------------------------------------------------------------------------------
    def state(self, *, fresh: bool = False) -> PlaybookState:
        now = time.monotonic()
        if not fresh and self._cached is not None and now - self._cached[0] < self.ttl_s:
            return self._cached[1]
        with self.store.session() as s:
            row = s.get(RuntimeSetting, KEY)
            st = PlaybookState.from_value(row.value if row else None)
        self._cached = (now, st)
        return st

    def _claim(self, on: bool, by: str, statement: str) -> PlaybookState | None:
        """Flip the switch in one transaction (row lock on PostgreSQL); None when it already was so."""
        with self.store.session() as s:
            row = s.scalar(select(RuntimeSetting).where(RuntimeSetting.key == KEY).with_for_update())
            st = PlaybookState.from_value(row.value if row else None)
            if st.on == on:
                return None
            new = PlaybookState(on=on, since=utcnow().isoformat(timespec="seconds"), by=by,
                                statement=statement if on else st.statement, pinned=st.pinned)
            if row is None:
                s.add(RuntimeSetting(key=KEY, value=new.as_value(), updated_by=by, updated_at=utcnow()))
            else:
                row.value, row.updated_by, row.updated_at = new.as_value(), by, utcnow()
            Store.audit(s, "crisis.playbook_on" if on else "crisis.playbook_off", actor=by,
                        data={"statement": statement[:500]} if on else {})
        self._cached = None
        return new

    def group_chats(self) -> list[str]:
        """Where to pin: `pin_chats`, or every Telegram group fancare has seen a message in."""
        if self.pin_chats:
            return list(self.pin_chats)
        with self.store.session() as s:
            rows = s.scalars(select(Conversation.chat_id).where(Conversation.channel == "telegram",
                                                                Conversation.chat_id.like("-%")).distinct())
            return sorted(set(rows))

    async def switch_on(self, by: str, statement: str | None, actions: Mapping[str, ModerationActions]) -> str:
        text = (statement or "").strip() or self.statement
        st = self._claim(True, by, text)
        if st is None:
            cur = self.state(fresh=True)
            return f"The crisis playbook is already on (since {cur.since}, by {cur.by})."
        pinned: list[list[str]] = []
        port = actions.get("telegram")
        failed = 0
        if port is not None and hasattr(port, "pin_notice"):
            for chat in self.group_chats():
                try:
                    mid = await port.pin_notice(chat, text)  # type: ignore[attr-defined]
                except Exception as exc:  # noqa: BLE001 - one chat failing must not stop the others
                    log.warning("could not pin the holding statement in %s: %s", chat, type(exc).__name__)
                    failed += 1
                    continue
                if mid is not None:
                    pinned.append(["telegram", str(chat), str(mid)])
        if not self._record_pins(pinned, by, on=True):  # switched off while we were pinning: take ours down
            await self._unpin_all(pinned, actions)
            return "The crisis playbook was switched off while the holding statement was being pinned."
        where = f" and pinned in {len(pinned)} group(s)" if pinned else ""
        fail = f" ({failed} group(s) refused: check the bot is an admin there)" if failed else ""
        return (f"Crisis playbook ON: holding statement posted{where}{fail}; every complaint is escalated to "
                f"`{self.queue}`; public FAQ answers are paused. Switch off with `crisis off`.")

    async def switch_off(self, by: str, actions: Mapping[str, ModerationActions]) -> str:
        st = self._claim(False, by, "")
        if st is None:
            return "The crisis playbook is not on."
        unpinned = await self._unpin_all(st.pinned, actions)
        self._record_pins([], by, on=False)
        return f"Crisis playbook OFF: {unpinned} pinned statement(s) removed; normal answers resume."

    def _record_pins(self, pinned: list[list[str]], by: str, *, on: bool) -> bool:
        """Store the pinned messages if the switch is still `on` (row lock on PostgreSQL): another
        operator may have flipped it while this one was talking to Telegram."""
        with self.store.session() as s:
            row = s.scalar(select(RuntimeSetting).where(RuntimeSetting.key == KEY).with_for_update())
            st = PlaybookState.from_value(row.value if row else None)
            if row is None or st.on != on:
                return False
            st.pinned = pinned
            row.value, row.updated_by, row.updated_at = st.as_value(), by, utcnow()
        self._cached = None
        return True

    @staticmethod
    async def _unpin_all(pinned: list[list[str]], actions: Mapping[str, ModerationActions]) -> int:
        unpinned = 0
        for channel, chat, mid in pinned:
            port = actions.get(channel)
            if port is None or not hasattr(port, "unpin"):
                continue
            try:
                if await port.unpin(chat, mid):  # type: ignore[attr-defined]
                    unpinned += 1
            except Exception as exc:  # noqa: BLE001 - one chat failing must not stop the others
                log.warning("could not unpin the holding statement in %s: %s", chat, type(exc).__name__)
        return unpinned

    def status_text(self) -> str:
        st = self.state(fresh=True)
        if not st.on:
            return "The crisis playbook is off. Switch it on with `crisis on [holding statement]`."
        return (f"The crisis playbook is ON since {st.since} (by {st.by}); pinned in {len(st.pinned)} group(s).\n"
                f"Holding statement: {st.statement}")

    # -- what it changes ------------------------------------------------------------------------------
    def apply(self, meta: Mapping[str, Any], parse: ParseResult, state: dict[str, Any], turn: Turn,
              decision: Decision) -> Decision:
        """The policy's decision, adjusted while the playbook is on (a no-op otherwise)."""
        st = self.state()
        if not st.on:
            return decision
        intent = None if parse.fallback else parse.intent
        public = meta.get("chat_type") in PUBLIC_CHAT_TYPES
        if public:
            if self.pause_public_faq and (decision.action.startswith("faq")
                                          or any(k.startswith("faq.") for k, _ in decision.events)):
                return Decision(state=state, action="crisis:faq_paused", events=[("crisis.faq_paused", {})])
            return decision
        if intent in self.escalate_intents and decision.escalate is not None:  # escalated anyway: say it first
            decision.escalate = EscalationRequest(decision.escalate.queue,
                                                  {**decision.escalate.reason, "crisis_playbook": True})
            decision.replies.insert(0, Outgoing(text=st.statement or self.statement))
            return decision
        if intent in self.escalate_intents:
            new_state = {k: v for k, v in state.items() if k not in FORM_KEYS}
            d = Decision(state=new_state, action=f"escalate:{self.queue}")
            d.escalate = EscalationRequest(self.queue, {"intent": intent, "confidence": round(parse.confidence, 3),
                                                        "language": parse.language, "crisis_playbook": True})
            d.replies = [Outgoing(text=st.statement or self.statement), Outgoing(text="", response="utter_handoff")]
            d.events.append(("crisis.escalated", {"intent": intent}))
            return d
        return decision
