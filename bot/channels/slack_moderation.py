"""Moderation in Slack: the review queue with Restore / Confirm / Ban, and the crisis playbook switch.

    pipeline --moderation item--> queue_reviews --outbox--> review post (moderation channel)
    moderator --button--> moderation.review.carry_out --> store + Telegram (lift / delete / ban)
                      --> the post's buttons become "Restored by @x", the outcome in its thread
    /fancare crisis on|off, or the alert's button --> moderation.playbook.CrisisPlaybook

Review posts are pulled from the store (`moderation_items`), not pushed by the pipeline: every
process's timer and the pipeline's nudge call `queue_reviews`, which claims each item once with a
`slack_seen` key in the same transaction as its outbox row, so a crash or several processes never
lose or double a post. Buttons carry only the item id; a click re-reads the item, and the decision
is conditional in the store, so a second click says who decided first.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.channels.slack_text import escape, fan_name_for_slack, fan_text_for_slack, mention_user
from bot.config import SlackConfig
from bot.store import Contact, Conversation, Message, Store
from bot.store.models import utcnow
from bot.store.moderation_models import ModerationItem
from bot.store.slack_models import SlackSeen

ACTION_RESTORE = "fancare_mod_restore"
ACTION_CONFIRM = "fancare_mod_confirm"
ACTION_BAN = "fancare_mod_ban"
ACTION_CRISIS_ON = "fancare_crisis_on"
DECISION_BY_ACTION = {ACTION_RESTORE: "restore", ACTION_CONFIRM: "confirm", ACTION_BAN: "ban"}
DONE_WORDS = {"restored": "Restored", "confirmed": "Confirmed", "banned": "Banned"}
SEEN_PREFIX = "modrev:"
LOOKBACK = timedelta(days=1)  # older items stay in `fancare moderation review` (slack_seen keeps 2 days)

log = logging.getLogger("fancare.slack.moderation")


def review_channel(cfg: SlackConfig) -> str:
    return cfg.moderation_channel or cfg.queue_channels.get("moderation", cfg.default_channel)


def review_blocks(item: ModerationItem, text: str, fan: str | None, *, mask: bool) -> list[dict[str, Any]]:
    """The item: what fired with what score, where, the (masked, escaped) message, then the buttons."""
    score = "" if item.score is None else f" {item.score:.2f}"
    dry = " (dry run: nothing was done)" if item.dry_run else ""
    verb = "Flagged for review" if item.action == "flag" else f"Enforced: *{escape(item.action)}*"
    head = (f":shield: {verb}{dry} · rule `{escape(item.rule)}` · signal `{escape(item.signal or 'pattern')}`{score}\n"
            f"{escape(item.channel)} chat `{escape(item.chat_id)}` · fan {fan_name_for_slack(fan or item.user_id)}")
    body = fan_text_for_slack(text, mask=mask, limit=600) or "_(no text)_"
    value = str(item.id)
    return [
        {"type": "section", "block_id": f"fancare_mod_{item.id}", "text": {"type": "mrkdwn", "text": head}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "> " + body.replace("\n", "\n> ")}},
        {"type": "actions", "block_id": f"fancare_mod_act_{item.id}", "elements": [
            {"type": "button", "action_id": ACTION_RESTORE, "value": value,
             "text": {"type": "plain_text", "text": "Restore (false alarm)"}},
            {"type": "button", "action_id": ACTION_CONFIRM, "value": value, "style": "primary",
             "text": {"type": "plain_text", "text": "Confirm"}},
            {"type": "button", "action_id": ACTION_BAN, "value": value, "style": "danger",
             "text": {"type": "plain_text", "text": "Ban"},
             "confirm": {"title": {"type": "plain_text", "text": "Ban this fan?"},
                         "text": {"type": "mrkdwn", "text": "They are removed from the chat until unbanned."},
                         "confirm": {"type": "plain_text", "text": "Ban"},
                         "deny": {"type": "plain_text", "text": "Cancel"}}}]},
    ]


def decided_blocks(blocks: list[dict[str, Any]], item_id: int, note: str) -> list[dict[str, Any]]:
    done = {"type": "context", "block_id": f"fancare_mod_done_{item_id}",
            "elements": [{"type": "mrkdwn", "text": note}]}
    return [done if b.get("block_id") == f"fancare_mod_act_{item_id}" else b for b in blocks]


def queue_reviews(store: Store, cfg: SlackConfig, outbox: Any, limit: int = 50, only: int | None = None) -> int:
    """Queue a review post for each recent item not posted yet (or for item `only`: the pipeline's
    nudge, one indexed lookup instead of a sweep per message); returns how many were queued."""
    since = utcnow() - LOOKBACK
    actions = tuple(cfg.moderation_review_actions)
    with store.session() as s:
        q = select(ModerationItem.id).where(
            ModerationItem.created_at >= since, ModerationItem.status.in_(("pending", "acted")),
            ModerationItem.action.in_(actions))
        if only is not None:
            q = q.where(ModerationItem.id == only)
        ids = list(s.scalars(q.order_by(ModerationItem.id).limit(500)))
        if not ids:
            return 0
        seen = set(s.scalars(select(SlackSeen.key).where(SlackSeen.key.in_([SEEN_PREFIX + str(i) for i in ids]))))
    queued = 0
    for item_id in [i for i in ids if SEEN_PREFIX + str(i) not in seen][:limit]:
        try:
            with store.session() as s:
                s.add(SlackSeen(key=SEEN_PREFIX + str(item_id)))
                s.flush()  # another process claimed it: IntegrityError here, nothing queued
                item = s.get(ModerationItem, item_id)
                if item is None:
                    continue
                msg = s.get(Message, item.message_id) if item.message_id else None
                conv = s.get(Conversation, item.conversation_id) if item.conversation_id else None
                contact = s.get(Contact, conv.contact_id) if conv else None
                blocks = review_blocks(item, msg.text if msg else "", contact.display_name if contact else None,
                                       mask=cfg.mask_personal_data)
                text = f"Moderation: {item.action} by rule {item.rule} (#{item.id}) — review it"
                outbox.enqueue(s, 0, "modreview", review_channel(cfg), text, blocks=blocks, in_thread=False)
                queued += 1
        except IntegrityError:
            continue
    return queued


class ModerationConsole:
    """The buttons and `/fancare crisis` for one `SlackConsole`."""

    def __init__(self, console: Any) -> None:
        self.console = console

    @property
    def ports(self) -> dict[str, Any]:
        return dict(self.console.app.pipeline.moderator.actions)

    # -- review buttons -----------------------------------------------------------------------------
    async def on_review(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        from moderation.review import carry_out, platform_words

        await ack()
        user, channel, msg_ts = self.console.click_where(body)
        message = body.get("message") or {}
        decision = DECISION_BY_ACTION.get(str(action.get("action_id")))
        try:
            item_id = int(str(action.get("value")))
        except ValueError:
            return
        if decision is None:
            return
        if not await self.console.operator_click(user, channel, f"moderation_{decision}"):
            return
        if decision == "ban" and not await self.console.admin_click(user, channel, "ban a fan"):
            return
        outcome = await carry_out(self.console.app.store, item_id, decision, f"slack:{user}", self.ports)
        if not outcome.decided:
            item = outcome.item
            text = (f"Already {item.status} by {mention_user(item.decided_by)}." if item is not None
                    else f"There is no moderation item #{item_id}.")
            await self.console._ephemeral(channel, user, text, msg_ts)
            return
        assert outcome.item is not None
        word = DONE_WORDS.get(outcome.item.status, outcome.item.status)
        extra = ", ".join(platform_words(outcome.item, outcome.platform))
        note = f":white_check_mark: {word} by <@{user}>{' (' + extra + ')' if extra else ''}. Labelled for training."
        if not channel or not msg_ts:
            return
        try:
            if message.get("blocks"):
                await self.console.client.chat_update(channel=channel, ts=msg_ts, text=message.get("text") or word,
                                                      blocks=decided_blocks(message["blocks"], item_id, note))
            await self.console.client.chat_postMessage(channel=channel, thread_ts=msg_ts, text=note)
        except Exception as exc:  # noqa: BLE001 - the decision is stored; the post is cosmetic
            log.warning("could not update the review post: %s", type(exc).__name__)

    # -- the crisis playbook ------------------------------------------------------------------------
    async def crisis_command(self, args: list[str], operator: str) -> str:
        playbook = getattr(self.console.app, "playbook", None)
        if playbook is None:
            return "The crisis playbook is not available in this process."
        sub = args[0].lower() if args else "status"
        if sub == "on":
            return str(await playbook.switch_on(operator, " ".join(args[1:]) or None, self.ports))
        if sub == "off":
            return str(await playbook.switch_off(operator, self.ports))
        if sub == "status":
            return str(playbook.status_text())
        return "usage: `/fancare crisis on [holding statement]` | `/fancare crisis off` | `/fancare crisis`"

    async def on_crisis_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel, msg_ts = self.console.click_where(body)
        if not await self.console.operator_click(user, channel, "crisis_on"):
            return
        if not await self.console.admin_click(user, channel, "switch the crisis playbook on or off"):
            return
        text = await self.crisis_command(["on"], f"slack:{user}")
        if channel and msg_ts:
            try:
                await self.console.client.chat_postMessage(channel=channel, thread_ts=msg_ts,
                                                           text=f"<@{user}>: {escape(text)}")
            except Exception as exc:  # noqa: BLE001
                log.warning("could not confirm the crisis playbook in Slack: %s", type(exc).__name__)


def install_moderation(console: Any) -> ModerationConsole:
    mod = ModerationConsole(console)
    for action_id in DECISION_BY_ACTION:
        console.bolt.action(action_id)(mod.on_review)
    console.bolt.action(ACTION_CRISIS_ON)(mod.on_crisis_button)
    return mod
