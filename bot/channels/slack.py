"""The Slack operator console: escalations as cards, claim, two-way thread relay, /fancare, SLA.

    pipeline --escalation_opened / fan_message--> SlackInbox --rows--> SlackOutbox --Web API--> Slack
    Slack --signed events, buttons, /fancare--> bolt listeners --> bot.inbox (claim/reply/close/note)
                                                           --> fan outbox --> the fan's channel

`SlackInbox` is the `OperatorInbox` port's Slack adapter: it never calls Slack itself, it writes
outbox rows and kicks delivery in the background, so a slow or unreachable Slack never delays the
fan's reply. `SlackConsole` owns the bolt app, the listeners and the loops; `serve(app, stop)` is
what `fancare run` starts. Operator actions go through `bot.inbox`, the same code as the CLI and the
shell, so the rules (who may reply, what resolve does) are written once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot import inbox
from bot.app import App
from bot.channels.slack_access import OperatorAccess
from bot.channels.slack_blocks import ACTION_CLAIM, ACTION_HANDBACK, ACTION_RESOLVE
from bot.channels.slack_http import SlackHTTPServer
from bot.channels.slack_inbox import SlackInbox, load_card
from bot.channels.slack_outbox import SlackOutbox, rowcount
from bot.channels.slack_roles import Roles, command_needs_admin, refusal
from bot.channels.slack_text import escape, fan_name_for_slack, fan_text_for_slack, mention_user, slack_to_plain
from bot.config import SlackConfig, secret
from bot.store import Escalation
from bot.store.models import utcnow
from bot.store.slack_models import SlackSeen, SlackTicket

__all__ = ["SlackConsole", "SlackInbox", "serve"]

log = logging.getLogger("fancare.slack")
DEFAULT_API_URL = "https://slack.com/api/"
USAGE = ("usage: `/fancare queue` | `/fancare claim N` | `/fancare resolve N` | `/fancare handback N` | "
         "`/fancare note N text` | `/fancare stats` | `/fancare digest` | `/fancare crisis on|off` | `/fancare poll ...` | "
         "`/fancare giveaway ...` | `/fancare privacy export|erase CHANNEL USER` (admins)")
REFUSAL = "Sorry, only fancare operators can do that. This attempt has been recorded."
_SLACK_OPERATOR = re.compile(r"slack:(U[A-Z0-9]+|W[A-Z0-9]+)")


def _mentions(text: str) -> str:
    """Turn `slack:U123` in inbox messages into Slack mentions."""
    return _SLACK_OPERATOR.sub(r"<@\1>", text)


class SlackConsole:
    """Everything Slack-side for one App: client, bolt listeners, outbox, SLA timer."""

    def __init__(self, app: App, cfg: SlackConfig, *, backoff_s: float = 1.0,
                 client: AsyncWebClient | None = None) -> None:
        self.app = app
        self.cfg = cfg
        self.client = client or AsyncWebClient(token=secret(cfg.bot_token), base_url=cfg.api_url or DEFAULT_API_URL,
                                               timeout=15)
        self.outbox = SlackOutbox(app.store, self.client, max_attempts=cfg.max_attempts, backoff_s=backoff_s)
        self.inbox = SlackInbox(app.store, cfg, self.outbox)
        self.access = OperatorAccess(self.client, allow=cfg.operators, usergroup=cfg.operator_usergroup)
        self.roles = Roles(cfg, self.access)
        self.roles.warn_if_off()
        self.bolt = AsyncApp(client=self.client, signing_secret=secret(cfg.signing_secret) or "",
                             process_before_response=True, request_verification_enabled=cfg.mode == "http")
        self.bolt.action(ACTION_CLAIM)(self._on_claim)
        self.bolt.action(ACTION_RESOLVE)(self._on_close)
        self.bolt.action(ACTION_HANDBACK)(self._on_close)
        self.bolt.event("message")(self._on_message)
        self.bolt.command("/fancare")(self._on_command)
        from bot.channels.slack_engagement import install_poll_modal

        install_poll_modal(self)
        from bot.channels.slack_review import install_review

        self.review = install_review(self)
        from bot.channels.slack_moderation import install_moderation

        self.moderation = install_moderation(self)
        self.bolt.error(self._on_error)

    def install(self) -> None:
        """Make this console the pipeline's operator inbox."""
        self.app.pipeline.operators = self.inbox

    # -- dedup ----------------------------------------------------------------------------------
    def first_time(self, keys: list[str]) -> bool:
        """Record delivery keys; False when any was seen (a Slack retry or a replay)."""
        try:
            with self.app.store.session() as s:
                for k in keys:
                    s.add(SlackSeen(key=k[:200]))
        except IntegrityError:
            return False
        return True

    def prune_seen(self, older_than: timedelta = timedelta(days=2)) -> int:
        """Drop dedup keys older than any Slack retry or replay window (Slack retries within an hour)."""
        with self.app.store.session() as s:
            return rowcount(s.execute(delete(SlackSeen).where(SlackSeen.at < utcnow() - older_than)))

    def forget(self, keys: list[str]) -> None:
        """Undo `first_time` when handling failed, so Slack's retry gets another chance."""
        with self.app.store.session() as s:
            for k in keys:
                seen = s.get(SlackSeen, k[:200])
                if seen is not None:
                    s.delete(seen)

    async def _authorized(self, user: str | None, what: str, escalation_id: int | None = None) -> bool:
        if await self.roles.role_of(user) is not None:
            return True
        with self.app.store.session() as s:
            self.app.store.audit(s, "slack.unauthorized", actor=f"slack:{user}",
                                 data={"action": what, "escalation_id": escalation_id})
        log.warning("refused Slack user %s: %s", user, what)
        return False

    async def admin_allowed(self, user: str | None, what: str, escalation_id: int | None = None) -> bool:
        """True when `user` may do an admin-only thing (see slack_roles.py); else audited as refused."""
        if await self.roles.may_admin(user):
            return True
        with self.app.store.session() as s:
            self.app.store.audit(s, "slack.refused", actor=f"slack:{user}",
                                 data={"action": what, "escalation_id": escalation_id, "needs": "admin"})
        log.warning("refused Slack user %s: %s (not an admin)", user, what)
        return False

    async def admin_click(self, user: str | None, channel: str | None, what: str, thread_ts: str | None = None) -> bool:
        """`admin_allowed` for a button: a refused user is told so (ephemeral)."""
        if await self.admin_allowed(user, what):
            return True
        await self._ephemeral(channel, user, refusal(what), thread_ts)
        return False

    async def _ephemeral(self, channel: str | None, user: str | None, text: str, thread_ts: str | None) -> None:
        if not channel or not user:
            return
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
        except Exception as exc:  # noqa: BLE001 - a courtesy message; the action's effect is stored
            log.info("ephemeral reply failed: %s", type(exc).__name__)

    async def _fan_dispatch(self, escalation_id: int) -> None:
        with self.app.store.session() as s:
            esc = s.get(Escalation, escalation_id)
            conv_id = esc.conversation_id if esc else None
        if conv_id is not None:
            await self.app.pipeline.dispatch(conv_id)

    # -- buttons ----------------------------------------------------------------------------------
    @staticmethod
    def click_where(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
        """(user, channel, message ts) of a block_actions payload, for every button of the console."""
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        msg_ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")
        return user, channel, msg_ts

    async def operator_click(self, user: str | None, channel: str | None, what: str) -> bool:
        """True when `user` is an operator; else they are told so (ephemeral) and it is audited."""
        if await self._authorized(user, what):
            return True
        await self._ephemeral(channel, user, REFUSAL, None)
        return False

    @classmethod
    def _action_context(cls, body: dict[str, Any], action: dict[str, Any]) -> tuple[str | None, int | None,
                                                                                  str | None, str | None]:
        user, channel, msg_ts = cls.click_where(body)
        try:
            esc_id: int | None = int(str(action.get("value")))
        except ValueError:
            esc_id = None
        return user, esc_id, channel, msg_ts

    async def _on_claim(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, esc_id, channel, msg_ts = self._action_context(body, action)
        if esc_id is None:
            return
        if not await self._authorized(user, "claim", esc_id):
            await self._ephemeral(channel, user, REFUSAL, msg_ts)
            return
        res = inbox.claim(self.app.store, esc_id, f"slack:{user}")
        if res.ok:
            self.inbox.notice(esc_id, f":raising_hand: <@{user}> claimed #{esc_id}: their replies in this "
                                      "thread go to the fan; start a reply with "
                                      f"`{escape(self.cfg.note_prefix)}` to keep it internal.", refresh_card=True)
        else:
            await self._ephemeral(channel, user, _mentions(res.message), msg_ts)

    async def _on_close(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, esc_id, channel, msg_ts = self._action_context(body, action)
        if esc_id is None:
            return
        state = "resolved" if action.get("action_id") == ACTION_RESOLVE else "handed_back"
        if not await self._authorized(user, state, esc_id):
            await self._ephemeral(channel, user, REFUSAL, msg_ts)
            return
        text = await self.close(esc_id, f"slack:{user}", state)
        if text is not None:
            await self._ephemeral(channel, user, text, msg_ts)

    async def close(self, esc_id: int, operator: str, state: str) -> str | None:
        """Resolve or hand back; None when done (the thread says so), else why not. A ticket claimed
        by another operator needs an admin."""
        with self.app.store.session() as s:
            esc = s.get(Escalation, esc_id)
            claimer = esc.claimed_by if esc is not None and esc.state not in ("resolved", "handed_back") else None
        if claimer and claimer != operator:
            what = f"{'resolve' if state == 'resolved' else 'hand back'} a ticket another operator claimed"
            if not await self.admin_allowed(operator.removeprefix("slack:"), what, esc_id):
                return refusal(what)
        res = inbox.close(self.app.store, self.app.domain, esc_id, operator, state)
        if not res.ok:
            return _mentions(res.message)
        word = "resolved" if state == "resolved" else "handed back to the bot"
        extra = " The fan has been asked for a rating." if state == "resolved" else ""
        self.inbox.notice(esc_id, f":white_check_mark: {mention_user(operator)} {word} #{esc_id}.{extra}",
                          refresh_card=True)
        await self._fan_dispatch(esc_id)
        return None

    # -- thread replies -----------------------------------------------------------------------------
    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("subtype") not in (None, "thread_broadcast") or event.get("bot_id"):
            return  # edits, deletions, joins, our own posts: never relayed
        thread_ts, channel, user = event.get("thread_ts"), event.get("channel"), event.get("user")
        if not thread_ts or thread_ts == event.get("ts") or not channel:
            return
        with self.app.store.session() as s:
            ticket = s.scalar(select(SlackTicket).where(SlackTicket.channel == channel, SlackTicket.ts == thread_ts))
            esc_id = ticket.escalation_id if ticket else None
        if esc_id is None:
            return
        keys = [f"msg:{channel}:{event.get('ts')}"]
        if body.get("event_id"):
            keys.append(f"event:{body['event_id']}")
        if not self.first_time(keys):
            return
        try:
            await self._thread_reply(esc_id, user, str(event.get("text") or ""))
        except Exception:
            self.forget(keys)
            raise

    async def _thread_reply(self, esc_id: int, user: str | None, text: str) -> None:
        if not await self._authorized(user, "reply", esc_id):
            self.inbox.notice(esc_id, f":no_entry: <@{user}> is not a fancare operator: that message was "
                                      "not sent to the fan.")
            return
        prefix = self.cfg.note_prefix.strip().lower()
        if prefix and text.strip().lower().startswith(prefix):
            inbox.note(self.app.store, esc_id, f"slack:{user}", slack_to_plain(text.strip()[len(prefix):]))
            self.inbox.notice(esc_id, ":memo: Internal note: not sent to the fan.")
            return
        res = inbox.reply(self.app.store, esc_id, f"slack:{user}", slack_to_plain(text))
        if not res.ok:
            self.inbox.notice(esc_id, f":speech_balloon: Not sent to the fan: {_mentions(res.message)}")
            return
        await self._fan_dispatch(esc_id)

    # -- /fancare -----------------------------------------------------------------------------------
    async def _on_command(self, ack: Any, body: dict[str, Any]) -> None:
        trigger = body.get("trigger_id")
        if trigger and not self.first_time([f"cmd:{trigger}"]):
            await ack()
            return
        user = body.get("user_id")
        words = str(body.get("text") or "").strip().split(maxsplit=2)
        sub = words[0].lower() if words else "help"
        if sub == "privacy":  # admins only (channels.slack.admins): export or erase a fan
            from bot.channels.slack_privacy import privacy_command

            await ack(text=await privacy_command(self, user, words[1:]))
            return
        if not await self._authorized(user, f"command:{sub}"):
            await ack(text=REFUSAL)
            return
        admin_what = command_needs_admin(sub, str(body.get("text") or "").strip().split()[1:])
        if admin_what and not await self.admin_allowed(user, f"command:{sub} {admin_what}"):
            await ack(text=refusal(admin_what))
            return
        if sub == "poll" and words[1:] == ["create"] and trigger:  # no arguments: the form (a modal)
            from bot.channels.slack_engagement import open_poll_modal

            await ack()
            await open_poll_modal(self.client, str(trigger), str(body.get("channel_id") or ""))
            return
        await ack(text=await self.command(sub, words[1:], f"slack:{user}"))

    async def command(self, sub: str, args: list[str], operator: str) -> str:
        store = self.app.store
        if sub in ("poll", "giveaway"):  # polls and giveaways: the CLI's grammar (bot/channels/slack_engagement.py)
            from bot.channels.slack_engagement import engagement_command

            return await engagement_command(self.app, sub, args, operator, files_dir=self.cfg.files_dir)
        if sub == "digest":  # the review inbox's top unclear messages, with label buttons (slack_review.py)
            return await self.review.command(operator)
        if sub == "crisis":  # the crisis playbook switch (slack_moderation.py, moderation/playbook.py)
            return await self.moderation.crisis_command(args, operator)
        if sub == "queue":
            rows = inbox.list_open(store)
            if not rows:
                return "No open escalations. :tada:"
            return "\n".join(
                f"#{r['id']} [{escape(r['priority'])}] `{escape(r['queue'])}` {r['state']}"
                f"{' by ' + mention_user(r['claimed_by']) if r['claimed_by'] else ''}"
                f" · {fan_name_for_slack(r['fan'])}: "
                f"{fan_text_for_slack(r['last'], mask=self.cfg.mask_personal_data, limit=80)}" for r in rows)
        if sub == "stats":
            today = self.stats_text(inbox.stats(store, utcnow().replace(hour=0, minute=0, second=0, microsecond=0)))
            # the report's short form, the same numbers as `fancare stats` (last 7 days)
            from bot.analytics import build_report, default_window, format_stats

            report = await asyncio.to_thread(build_report, store, default_window(None, None, days=7))
            short = fan_text_for_slack(format_stats(report), mask=self.cfg.mask_personal_data)
            return f"{today}\n\n*Last 7 days*\n```{short}```"
        if sub not in ("claim", "resolve", "handback", "note") or not args or not args[0].lstrip("#").isdigit():
            return USAGE
        esc_id = int(args[0].lstrip("#"))
        if sub == "claim":
            res = inbox.claim(store, esc_id, operator)
            if res.ok:
                self.inbox.notice(esc_id, f":raising_hand: {mention_user(operator)} claimed #{esc_id}.",
                                  refresh_card=True)
            return _mentions(res.message)
        if sub == "note":
            res = inbox.note(store, esc_id, operator, slack_to_plain(args[1] if len(args) > 1 else ""))
            if res.ok:
                self.inbox.notice(esc_id, f":memo: Note by {mention_user(operator)}: {args[1]}")
            return res.message
        state = "resolved" if sub == "resolve" else "handed_back"
        why_not = await self.close(esc_id, operator, state)
        return why_not or f"#{esc_id} {'resolved' if state == 'resolved' else 'handed back to the bot'}"

    @staticmethod
    def stats_text(st: dict[str, Any]) -> str:
        def dur(v: float | None) -> str:
            return "n/a" if v is None else (f"{v / 60:.1f} min" if v >= 60 else f"{v:.0f} s")

        csat = f"{st['csat_avg']} ({st['csat_count']} ratings)" if st["csat_avg"] is not None else "no ratings"
        return (f"*Today:* {st['opened']} escalations opened, {st['resolved']} resolved, {st['handed_back']} "
                f"handed back; {st['open_now']} open now.\n*Median first response:* "
                f"{dur(st['median_first_response_s'])} · *median resolution:* {dur(st['median_resolution_s'])}"
                f" · *CSAT:* {csat}")

    async def _on_error(self, error: Exception) -> None:
        log.error("Slack listener failed: %s", type(error).__name__, exc_info=error)

    # -- SLA ------------------------------------------------------------------------------------------
    async def sla_tick(self, now: datetime | None = None) -> int:
        """Re-post unclaimed escalations older than their priority's SLA, with a mention. Once per
        SLA period per escalation, even with several processes (conditional update on the counter)."""
        now = now or utcnow()
        reposted = 0
        with self.app.store.session() as s:
            for esc in s.scalars(select(Escalation).where(Escalation.state == "open").order_by(Escalation.id)):
                minutes = self.cfg.sla_minutes.get(esc.priority)
                ticket = s.get(SlackTicket, esc.id)
                if minutes is None or ticket is None:
                    continue
                since = ticket.sla_last_at or esc.created_at
                if now - since < timedelta(minutes=minutes):
                    continue
                res = s.execute(update(SlackTicket).where(SlackTicket.escalation_id == esc.id,
                                                          SlackTicket.sla_reposts == ticket.sla_reposts)
                                .values(sla_reposts=ticket.sla_reposts + 1, sla_last_at=now))
                if not rowcount(res):
                    continue
                info = load_card(s, esc.id)
                if info is None:
                    continue
                waited = int((now - esc.created_at).total_seconds() // 60)
                mention = self.inbox.oncall_mention(esc.queue) or "<!here>"
                text = f"{mention} SLA: escalation #{esc.id} [{esc.priority}] has waited {waited} min unclaimed."
                blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                          *self.inbox.render(info)]
                self.outbox.enqueue(s, esc.id, "sla", ticket.channel, text, blocks=blocks, in_thread=False)
                reposted += 1
        if reposted:
            self.inbox.kick()
        return reposted

    async def run_sla(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sla_tick()
                self.inbox.sweep_unposted()  # escalations whose card was lost in a crash
                await self.inbox.moderation_item()  # review posts another process recorded
                self.prune_seen()
                await self.review.daily_tick()
            except Exception:  # noqa: BLE001 - a failing tick must not stop the timer
                log.exception("SLA check failed")
            try:
                await asyncio.wait_for(stop.wait(), self.cfg.sla_check_s)
            except TimeoutError:
                pass

    async def run_outbox(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.outbox.deliver()
            except Exception:  # noqa: BLE001 - e.g. the database is briefly unavailable
                log.exception("Slack outbox delivery failed")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass


async def serve(app: App, stop: asyncio.Event, role: str = "all") -> None:
    """`fancare run`: route escalations to Slack and listen (HTTP or Socket Mode) until `stop`.

    `role` "receiver" listens only (operator actions are handled as they come; their posts go out at
    once, retries are a worker's); "worker" listens to nothing and runs the Slack outbox and the SLA
    timer, so escalations its pipeline opens reach Slack; "all" does both (one process)."""
    cfg = app.cfg.channels.slack
    if cfg is None:
        raise RuntimeError("channels.slack is not configured")
    console = SlackConsole(app, cfg)
    console.install()
    loops = ([asyncio.create_task(console.run_outbox(stop)), asyncio.create_task(console.run_sla(stop))]
             if role != "receiver" else [])
    try:
        if role == "worker":
            await stop.wait()
        elif cfg.mode == "http":
            if not secret(cfg.signing_secret):
                raise RuntimeError("channels.slack.signing_secret is required in http mode")
            server = SlackHTTPServer(console.bolt, secret(cfg.signing_secret) or "", path=cfg.path,
                                     max_body_bytes=cfg.max_body_bytes)
            await server.start(cfg.listen, cfg.port)
            try:
                await stop.wait()
            finally:
                await server.stop()
        else:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            if not secret(cfg.app_token):
                raise RuntimeError("channels.slack.app_token is required in socket mode")
            handler = AsyncSocketModeHandler(console.bolt, secret(cfg.app_token))
            await handler.connect_async()
            log.info("Slack Socket Mode connected")
            try:
                await stop.wait()
            finally:
                await handler.close_async()
    finally:
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)
        await console.inbox.settle()
