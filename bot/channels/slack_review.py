"""The review inbox in Slack: a daily digest of the top unclear messages with buttons to label them.

    bot.review.collect --top N--> digest message (review_channel) --button--> ReviewSession.label
                                                                          --> training data (Rasa YAML)
                                                                          --> chat.update "labelled by"

Labelling goes through `ReviewSession.label`, the code behind `fancare review`, so the Slack buttons
write, validate and record decisions exactly like the terminal UI. Buttons carry only the wording's
hash (`text_key`) and the intent: the fan's words never travel in a button value, and a click
re-reads the item from the store. A decision recorded under that hash makes a second click (or a
click in another process) a no-op that says who already labelled it.

The daily post is claimed once per UTC date in the database (a `slack_seen` key, which is atomic
across processes) and logged as an `audit_events` row of kind `slack.digest_posted`, which is
checked first, so restarts and several processes post it once a day.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import select

from bot.channels.slack_text import escape, fan_text_for_slack, mention_user
from bot.review import ReviewItem, collect, text_key
from bot.review_tui import OUT_OF_SCOPE, ReviewSession, SessionSummary
from bot.store.models import AuditEvent, utcnow
from bot.store.review_models import ReviewDecision
from nlu.readers import load_training_data
from nlu.similar import Embed, default_embedder

ACTION_ACCEPT = "fancare_review_accept"
ACTION_OOS = "fancare_review_oos"
ACTION_PICK = "fancare_review_pick"
ACTION_NEW = "fancare_review_new"
ACTIONS = (ACTION_ACCEPT, ACTION_OOS, ACTION_PICK)
NEW_INTENT_MODAL = "fancare_review_new_intent"
_INTENT_NAME = re.compile(r"[a-z][a-z0-9_]{1,62}")
DIGEST_KIND = "slack.digest_posted"
_NO_EMBED: Any = object()

log = logging.getLogger("fancare.slack.review")


def _value(k: str, intent: str) -> str:
    return f"{k}|{intent}"


def item_blocks(item: ReviewItem, intents: list[str], *, mask: bool) -> list[dict[str, Any]]:
    """One item: the (escaped, masked) wording with its count and prediction, then the buttons."""
    k = text_key(item.text)
    reasons = ", ".join(f"{escape(r)} {n}" for r, n in sorted(item.reasons.items()))
    text = (f"*{fan_text_for_slack(item.text, mask=mask, limit=300)}*\nseen {item.count}x · predicted "
            f"`{escape(item.predicted)}` ({item.confidence:.2f}) · {reasons}")
    elements: list[dict[str, Any]] = []
    if item.predicted != OUT_OF_SCOPE:  # else "Out of scope" is the accept button
        elements.append({"type": "button", "action_id": ACTION_ACCEPT, "style": "primary",
                         "value": _value(k, item.predicted),
                         "text": {"type": "plain_text", "text": f"✓ {item.predicted}"[:75]}})
    elements.append({"type": "button", "action_id": ACTION_OOS, "value": _value(k, OUT_OF_SCOPE),
                     "text": {"type": "plain_text", "text": "Out of scope"}})
    ranked = [name for name, _ in item.ranking]
    others = [i for i in dict.fromkeys([*ranked, *sorted(intents)]) if i not in (item.predicted, OUT_OF_SCOPE)]
    if others:
        elements.append({"type": "static_select", "action_id": ACTION_PICK,
                         "placeholder": {"type": "plain_text", "text": "Another intent…"},
                         "options": [{"text": {"type": "plain_text", "text": i[:75]}, "value": _value(k, i)}
                                     for i in others[:100]]})
    elements.append({"type": "button", "action_id": ACTION_NEW, "value": k,
                     "text": {"type": "plain_text", "text": "New intent…"}})
    return [{"type": "section", "block_id": f"fancare_rv_{k}", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "block_id": f"fancare_rv_act_{k}", "elements": elements}]


def digest_blocks(items: list[ReviewItem], intents: list[str], *, mask: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text",
                                                                "text": "Review inbox: top unclear messages"}}]
    for item in items:
        blocks.extend(item_blocks(item, intents, mask=mask))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                   "Labels go to the training data; run `fancare train` to use them."}]})
    return blocks


def labelled_blocks(blocks: list[dict[str, Any]], k: str, note: str) -> list[dict[str, Any]]:
    """The digest with one item's buttons replaced by who labelled it as what."""
    done = {"type": "context", "block_id": f"fancare_rv_done_{k}", "elements": [{"type": "mrkdwn", "text": note}]}
    return [done if b.get("block_id") == f"fancare_rv_act_{k}" else b for b in blocks]


class ReviewDigest:
    """Posts the digest and handles its buttons for one `SlackConsole`."""

    def __init__(self, console: Any, *, training_dir: Path | None = None,
                 training_paths: list[Path] | None = None, embed: Embed | None | Any = _NO_EMBED) -> None:
        from bot.review_cli import training_dir as default_dir

        cfg = console.app.cfg
        self.console = console
        self.training_dir = training_dir or default_dir(cfg)
        self.training_paths = training_paths or [cfg.resolve(p) for p in cfg.nlu.training_data]
        self._embed = embed

    @property
    def embed(self) -> Embed | None:
        if self._embed is _NO_EMBED:
            self._embed = default_embedder()
        return self._embed  # type: ignore[no-any-return]

    def intents(self) -> list[str]:
        return load_training_data([self.training_dir, *self.training_paths]).intents

    def channel(self) -> str:
        cfg = self.console.cfg
        return str(cfg.review_channel or cfg.default_channel)

    # -- posting --------------------------------------------------------------------------------------
    async def post(self) -> tuple[str, int] | None:
        """Post the digest now; (channel, item count), or None when the inbox is empty."""
        cfg = self.console.cfg
        items = await asyncio.to_thread(collect, self.console.app.store, limit=cfg.digest_items, embed=self.embed)
        if not items:
            return None
        blocks = digest_blocks(items, await asyncio.to_thread(self.intents), mask=cfg.mask_personal_data)
        resp = await self.console.client.chat_postMessage(
            channel=self.channel(), text=f"Review inbox: {len(items)} unclear message(s) to label", blocks=blocks)
        return str(resp.get("channel") or self.channel()), len(items)

    async def command(self, operator: str) -> str:
        """`/fancare digest`."""
        res = await self.post()
        if res is None:
            return "The review inbox is empty: nothing the NLU was unsure about. :tada:"
        return f"Posted the review digest ({res[1]} item(s)) to <#{res[0]}>."

    def _posted_on(self, date: str) -> bool:
        with self.console.app.store.session() as s:
            rows = s.scalars(select(AuditEvent.data).where(AuditEvent.kind == DIGEST_KIND)
                             .order_by(AuditEvent.id.desc()).limit(30))
            return any((d or {}).get("date") == date for d in rows)

    async def daily_tick(self, now: datetime | None = None) -> bool:
        """Post the day's digest once `digest_hour_utc` has passed; True when this call posted it."""
        hour = self.console.cfg.digest_hour_utc
        now = now or utcnow()
        if hour is None or now.hour < hour:
            return False
        date = now.date().isoformat()
        if self._posted_on(date) or not self.console.first_time([f"digest:{date}"]):
            return False
        try:
            res = await self.post()
        except Exception:
            self.console.forget([f"digest:{date}"])  # Slack was down: the next tick tries again
            raise
        with self.console.app.store.session() as s:
            self.console.app.store.audit(s, DIGEST_KIND, data={"date": date, "items": res[1] if res else 0,
                                                               "channel": res[0] if res else None})
        log.info("review digest for %s: %s item(s)", date, res[1] if res else 0)
        return res is not None

    # -- buttons --------------------------------------------------------------------------------------
    def _decided(self, k: str) -> ReviewDecision | None:
        with self.console.app.store.session() as s:
            row = s.scalar(select(ReviewDecision).where(ReviewDecision.text_key == k))
            if row is not None:
                s.expunge(row)
            return row

    def _find(self, k: str) -> ReviewItem | None:
        for item in collect(self.console.app.store, limit=500, embed=self.embed):
            if any(text_key(t) == k for t in item.texts):
                return item
        return None

    def _label(self, item: ReviewItem, intent: str, operator: str, *, new: bool = False) -> tuple[bool, str]:
        """`fancare review`'s own labelling (validates, writes Rasa YAML, records the decision)."""
        intents = self.intents()
        if intent != OUT_OF_SCOPE and intent not in intents and not new:  # buttons offer known intents only
            return False, f"unknown intent {intent}"
        decision = ("out_of_scope" if intent == OUT_OF_SCOPE else "accept" if intent == item.predicted
                    else "relabel" if intent in intents else "new_intent")  # as the TUI's o / a / p / n
        session = ReviewSession(self.console.app.store, self.training_dir, intents, operator=operator,
                                min_examples=self.console.app.cfg.nlu.min_examples_per_intent,
                                known_entities=set(self.console.app.domain.entities))
        out = io.StringIO()
        ok = session.label(item, intent, decision, Console(file=out, highlight=False, width=200), SessionSummary())
        return ok, out.getvalue().strip()

    async def on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel, msg_ts = self.console.click_where(body)
        message = body.get("message") or {}
        raw = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
        k, _, intent = raw.partition("|")
        if not k or not intent:
            return
        if not await self.console.operator_click(user, channel, "review_label"):
            return
        operator = f"slack:{user}"
        text = await self.label(k, intent, operator)
        if text.startswith(":white_check_mark:") and channel and msg_ts and message.get("blocks"):
            try:
                await self.console.client.chat_update(channel=channel, ts=msg_ts, text=message.get("text") or "",
                                                      blocks=labelled_blocks(message["blocks"], k, text))
            except Exception as exc:  # noqa: BLE001 - the label is stored; the message is cosmetic
                log.warning("could not update the digest: %s", type(exc).__name__)
        else:
            await self.console._ephemeral(channel, user, text, None)

    # -- "New intent…": a modal asks for the name -----------------------------------------------------
    async def on_new_intent(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel, msg_ts = self.console.click_where(body)
        if not await self.console.operator_click(user, channel, "review_label"):
            return
        k = str(action.get("value") or "")
        view = {"type": "modal", "callback_id": NEW_INTENT_MODAL, "private_metadata": f"{k}|{channel}|{msg_ts}",
                "title": {"type": "plain_text", "text": "New intent"},
                "submit": {"type": "plain_text", "text": "Label"},
                "close": {"type": "plain_text", "text": "Cancel"},
                "blocks": [{"type": "input", "block_id": "intent", "label": {"type": "plain_text",
                                                                              "text": "Intent name"},
                            "hint": {"type": "plain_text", "text": "lower_case_with_underscores, e.g. "
                                     "warranty_claim. It is trained once it has enough examples."},
                            "element": {"type": "plain_text_input", "action_id": "value",
                                        "placeholder": {"type": "plain_text", "text": "warranty_claim"}}}]}
        await self.console.client.views_open(trigger_id=body.get("trigger_id"), view=view)

    async def on_new_intent_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = (body.get("user") or {}).get("id")
        if not await self.console._authorized(user, "review_label"):
            from bot.channels.slack import REFUSAL

            await ack(response_action="errors", errors={"intent": REFUSAL})
            return
        values = (view.get("state") or {}).get("values") or {}
        name = str(((values.get("intent") or {}).get("value") or {}).get("value") or "").strip().lower()
        if not _INTENT_NAME.fullmatch(name) or name == OUT_OF_SCOPE:
            await ack(response_action="errors",
                      errors={"intent": "Use 2-63 lower-case letters, digits and underscores, starting with a letter."})
            return
        await ack()
        k, _, where = str(view.get("private_metadata") or "").partition("|")
        channel, _, ts = where.partition("|")
        text = await self.label(k, name, f"slack:{user}", new=True)
        if channel and ts and channel != "None" and ts != "None":
            try:
                await self.console.client.chat_postMessage(channel=channel, thread_ts=ts, text=text)
            except Exception as exc:  # noqa: BLE001 - the label is stored; the note is cosmetic
                log.warning("could not confirm the new intent in Slack: %s", type(exc).__name__)

    async def label(self, k: str, intent: str, operator: str, *, new: bool = False) -> str:
        """Label the item whose wording hashes to `k`; what to tell the operator."""
        done = self._decided(k)
        if done is not None:
            return (f"Already labelled as `{escape(done.label or done.decision)}` by "
                    f"{mention_user(done.decided_by)}.")
        if not self.console.first_time([f"review:{k}"]):
            return "Someone is labelling this item right now."
        try:
            item = await asyncio.to_thread(self._find, k)
            if item is None:
                return "That message is no longer in the review inbox."
            ok, out = await asyncio.to_thread(self._label, item, intent, operator, new=new)
        finally:
            if self._decided(k) is None:
                self.console.forget([f"review:{k}"])
        if not ok:
            log.warning("review label %s not written", intent)
            return f"Not written: {escape(out[-500:]) or 'nothing to write'}"
        return (f":white_check_mark: {mention_user(operator)} labelled this ({item.count}x) as "
                f"`{escape(intent)}`.")


def install_review(console: Any) -> ReviewDigest:
    """Register the digest's buttons on the console's bolt app."""
    review = ReviewDigest(console)
    for action_id in ACTIONS:
        console.bolt.action(action_id)(review.on_action)
    console.bolt.action(ACTION_NEW)(review.on_new_intent)
    console.bolt.view(NEW_INTENT_MODAL)(review.on_new_intent_submit)
    return review
