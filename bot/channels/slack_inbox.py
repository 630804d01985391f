"""The `OperatorInbox` port's Slack adapter and the card snapshot it renders.

It never calls Slack itself: it writes outbox rows in the same transaction that reads the state
they report, then kicks delivery in the background, so a slow or unreachable Slack never delays
the fan's reply and nothing is lost when Slack is down.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels.slack_blocks import CardInfo, card_blocks, card_text
from bot.channels.slack_outbox import SlackOutbox
from bot.channels.slack_text import escape, fan_text_for_slack
from bot.config import SlackConfig
from bot.store import Contact, Conversation, Escalation, Store
from bot.store.models import utcnow
from bot.store.slack_models import SlackSeen, SlackTicket

log = logging.getLogger("fancare.slack")


def load_card(s: Session, escalation_id: int) -> CardInfo | None:
    esc = s.get(Escalation, escalation_id)
    if esc is None:
        return None
    conv = s.get(Conversation, esc.conversation_id)
    contact = s.get(Contact, conv.contact_id) if conv else None
    return CardInfo(escalation_id=esc.id, queue=esc.queue, priority=esc.priority, state=esc.state,
                    claimed_by=esc.claimed_by, fan_name=contact.display_name if contact else None,
                    fan_channel=conv.channel if conv else "?", language=contact.language if contact else None,
                    reason=dict(esc.reason or {}), transcript=list(esc.transcript or []))


def _channel_link(channel: str) -> str:
    """A clickable channel for an id (C0123...); a configured `#name` stays as written."""
    return channel if channel.startswith("#") else f"<#{channel}>"


class SlackInbox:
    """`OperatorInbox` for Slack: queue the card or the relayed message, then deliver in the background."""

    def __init__(self, store: Store, cfg: SlackConfig, outbox: SlackOutbox) -> None:
        self.store = store
        self.cfg = cfg
        self.outbox = outbox
        self._tasks: set[asyncio.Task[int]] = set()
        #: an escalation without a Slack card this long after it opened is posted by `sweep_unposted`
        self.unposted_after_s = 60.0

    def channel_for(self, queue: str) -> str:
        return self.cfg.queue_channels.get(queue, self.cfg.default_channel)

    def oncall_mention(self, queue: str) -> str | None:
        if queue in self.cfg.oncall_queues and self.cfg.oncall_usergroup:
            return f"<!subteam^{self.cfg.oncall_usergroup}>"
        return None

    def render(self, info: CardInfo, mention: str | None = None) -> list[dict[str, Any]]:
        return card_blocks(info, mask=self.cfg.mask_personal_data, messages=self.cfg.card_messages,
                           mention=mention)

    async def escalation_opened(self, escalation_id: int, queue: str, priority: str) -> None:
        with self.store.session() as s:
            self.queue_card(s, escalation_id)
        self.kick()

    def queue_card(self, s: Session, escalation_id: int) -> SlackTicket | None:
        """Post the card (first time) or update it and say so in the thread (e.g. upgraded to crisis)."""
        info = load_card(s, escalation_id)
        if info is None:
            return None
        mention = self.oncall_mention(info.queue)
        ticket = s.get(SlackTicket, escalation_id)
        if ticket is None:
            ticket = SlackTicket(escalation_id=escalation_id, channel=self.channel_for(info.queue), sla_reposts=0)
            s.add(ticket)
            text = f"{mention} {card_text(info)}" if mention else card_text(info)  # mentions notify from `text`
            self.outbox.enqueue(s, escalation_id, "card", ticket.channel, text,
                                blocks=self.render(info, mention), in_thread=False)
        else:
            self.outbox.enqueue(s, escalation_id, "update", ticket.channel, card_text(info),
                                blocks=self.render(info))
            self.outbox.enqueue(s, escalation_id, "notice", ticket.channel,
                                f"{mention or ''} Escalation #{escalation_id} is now *{escape(info.priority)}* "
                                f"in `{escape(info.queue)}`.".strip())
        return ticket

    def sweep_unposted(self, older_than_s: float | None = None) -> int:
        """Post the cards of escalations that never reached Slack (the process died between the
        escalation's commit and `escalation_opened`): open or claimed, older than `older_than_s`,
        with no Slack ticket. Safe with several processes (the ticket's key is the escalation id)."""
        cutoff = utcnow() - timedelta(seconds=self.unposted_after_s if older_than_s is None else older_than_s)
        queued = 0
        with self.store.session() as s:
            ids = list(s.scalars(
                select(Escalation.id).outerjoin(SlackTicket, SlackTicket.escalation_id == Escalation.id)
                .where(SlackTicket.escalation_id.is_(None), Escalation.state.in_(("open", "claimed")),
                       Escalation.created_at <= cutoff).order_by(Escalation.id).limit(100)))
        for esc_id in ids:
            try:
                with self.store.session() as s:
                    if s.get(SlackTicket, esc_id) is None and self.queue_card(s, esc_id) is not None:
                        s.flush()
                        queued += 1
            except IntegrityError:  # another process posted it first
                continue
        if queued:
            log.warning("slack: posted %d escalation card(s) that never reached Slack", queued)
            self.kick()
        return queued

    async def fan_message(self, escalation_id: int, text: str) -> None:
        with self.store.session() as s:
            ticket = s.get(SlackTicket, escalation_id) or self.queue_card(s, escalation_id)
            if ticket is None:
                return
            body = fan_text_for_slack(text, mask=self.cfg.mask_personal_data)
            self.outbox.enqueue(s, escalation_id, "fan", ticket.channel, f"*Fan:* {body}")
        self.kick()

    async def crisis_alert(self, alert: Any, history: list[tuple[int, int, int]] | None = None) -> None:
        """Crisis early warning (moderation/crisis.py): posted to the crisis queue's channel with the
        on-call mention, a button that switches the crisis playbook on, and a PNG chart of the last
        hours, through the durable outbox like every other post (escalation id 0: brand-wide)."""
        from bot.channels.slack_moderation import ACTION_CRISIS_ON

        mention = self.oncall_mention("crisis")
        examples = "\n".join(f"> {fan_text_for_slack(e, mask=self.cfg.mask_personal_data, limit=200)}"
                             for e in list(getattr(alert, "examples", []))[:3])
        with self.store.session() as s:
            open_now = s.scalar(select(func.count()).select_from(Escalation)
                                .where(Escalation.state.in_(("open", "claimed")))) or 0
        text = (f"{mention + ' ' if mention else ''}:rotating_light: {escape(alert.summary())}"
                f"{chr(10) + examples if examples else ''}\nOpen escalations: {open_now} "
                f"({_channel_link(self.channel_for('complaints'))}, `/fancare queue`)")
        blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
                  {"type": "actions", "elements": [
                      {"type": "button", "action_id": ACTION_CRISIS_ON, "value": str(alert.key)[:200],
                       "style": "danger", "text": {"type": "plain_text", "text": "Switch on crisis playbook"},
                       "confirm": {"title": {"type": "plain_text", "text": "Crisis playbook"},
                                   "text": {"type": "mrkdwn", "text": "Pin the holding statement, escalate every "
                                            "complaint and pause public FAQ answers?"},
                                   "confirm": {"type": "plain_text", "text": "Switch on"},
                                   "deny": {"type": "plain_text", "text": "Cancel"}}}]}]
        channel = self.channel_for("crisis")
        try:
            with self.store.session() as s:
                # every process's watch raises the same alert (moderation/crisis_feed.py): post it once
                s.add(SlackSeen(key=f"crisis:{alert.key}:{alert.at_minute}"[:200]))
                s.flush()
                self._queue_alert(s, alert, channel, text, blocks, history)
        except IntegrityError:
            return
        self.kick()

    def _queue_alert(self, s: Session, alert: Any, channel: str, text: str, blocks: list[dict[str, Any]],
                     history: list[tuple[int, int, int]] | None) -> None:
        self.outbox.enqueue(s, 0, "alert", channel, text, blocks=blocks, in_thread=False)
        if history and self.cfg.crisis_chart:
            from moderation.chart import chart_png

            png = chart_png(history)
            self.outbox.enqueue(s, 0, "file", channel, f"Messages per 10 min, last 6 h [{alert.key}]: "
                                "grey all, red negative",
                                blocks=[{"file_png_b64": base64.b64encode(png).decode(),
                                         "filename": "crisis-last-hours.png",
                                         "title": f"Last hours [{alert.key}]"}], in_thread=False)

    async def moderation_item(self, item_id: int | None = None) -> None:
        """A moderation verdict was recorded: queue its review post (Restore / Confirm / Ban). With
        no id (the console's timer), every recent item not posted yet, e.g. another process's."""
        from bot.channels.slack_moderation import queue_reviews

        if queue_reviews(self.store, self.cfg, self.outbox, only=item_id):
            self.kick()

    def notice(self, escalation_id: int, text: str, *, refresh_card: bool = False) -> None:
        """A message in the escalation's thread (and optionally a re-rendered card), via the outbox."""
        with self.store.session() as s:
            ticket = s.get(SlackTicket, escalation_id)
            if ticket is None:
                return
            if refresh_card:
                info = load_card(s, escalation_id)
                if info is not None:
                    self.outbox.enqueue(s, escalation_id, "update", ticket.channel, card_text(info),
                                        blocks=self.render(info))
            self.outbox.enqueue(s, escalation_id, "notice", ticket.channel, text)
        self.kick()

    async def note(self, text: str) -> None:
        """Something the team should know that belongs to no escalation (a custom action failed and
        the fan got an apology): a top-level post in the general queue's channel, through the outbox
        (escalation id 0: brand-wide; kind "alert" without blocks is a plain chat.postMessage)."""
        body = fan_text_for_slack(text, mask=self.cfg.mask_personal_data)  # may quote a remote error
        with self.store.session() as s:
            self.outbox.enqueue(s, 0, "alert", self.channel_for("general"), f":warning: {body}", in_thread=False)
        self.kick()

    def kick(self) -> None:
        """Deliver now, in the background: the caller (often the fan's pipeline) does not wait for Slack."""
        task = asyncio.get_running_loop().create_task(self.outbox.deliver())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the background deliveries started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
