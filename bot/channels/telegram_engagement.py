"""Telegram's side of polls and giveaways: native polls (sendPoll / stopPoll / poll_answer) and the
membership check of a giveaway's eligibility rule (getChatMember at draw time)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ExtBot

from bot.app import App
from bot.channels.telegram_updates import CHANNEL, PollAnswer
from bot.store.engagement_models import Poll
from dialogs.engagement import EngagementTimer

log = logging.getLogger("fancare.telegram.engagement")
MEMBER_STATES = ("creator", "administrator", "member")


class TelegramNativePolls:
    """Posts a poll as a Telegram native poll. Not anonymous on Telegram's side: only then does
    Telegram send `poll_answer` updates, which is how one vote per fan is enforced and changed.
    A poll whose votes cannot change is posted with `allows_revoting=False`, so Telegram agrees."""

    def __init__(self, bot: ExtBot[Any]) -> None:
        self.bot = bot

    async def post(self, poll: Poll, chat_id: str) -> tuple[str, str]:
        msg = await self.bot.send_poll(int(chat_id), poll.question, list(poll.options), is_anonymous=False,
                                       allows_multiple_answers=poll.multiple, allows_revoting=poll.changeable)
        assert msg.poll is not None
        return msg.poll.id, str(msg.message_id)

    async def stop(self, chat_id: str, message_id: str) -> None:
        await self.bot.stop_poll(int(chat_id), int(message_id))


class TelegramMembership:
    """`await check(chat, user)`: True when a member at this moment; None when Telegram cannot say."""

    def __init__(self, bot: ExtBot[Any]) -> None:
        self.bot = bot

    async def __call__(self, chat_id: str, user_id: str) -> bool | None:
        try:
            m = await self.bot.get_chat_member(int(chat_id), int(user_id))
        except (BadRequest, Forbidden):  # "user not found" / not in the chat
            return False
        except TelegramError as exc:
            log.warning("getChatMember failed: %s", type(exc).__name__)
            return None
        return m.status in MEMBER_STATES or (m.status == "restricted" and bool(getattr(m, "is_member", False)))


#: seconds between timer rounds (opening, closing, drawing); a round also runs at start
TICK_S = 5.0


def engagement_timer(app: App, bot: ExtBot[Any]) -> EngagementTimer:
    return EngagementTimer(app.engagement, app.pipeline.dispatch, native=TelegramNativePolls(bot),
                           member=TelegramMembership(bot))


async def run_engagement(app: App, bot: ExtBot[Any], stop: asyncio.Event) -> None:
    """The engagement timer of `fancare run`, owned by the Telegram channel (it posts native polls
    and checks membership through this bot)."""
    await engagement_timer(app, bot).run(stop, TICK_S)


def record_poll_answer(app: App, answer: PollAnswer) -> None:
    """A native-poll vote: mapped back to our poll by Telegram's poll id (unknown polls: ignored)."""
    polls = app.engagement.polls
    poll_id = polls.by_native(answer.poll_id)
    if poll_id is None:
        return
    res = polls.vote(poll_id, CHANNEL, answer.user_id, list(answer.option_ids), mode="set")
    app.pipeline.metrics[f"poll_answer_{res.status}"] += 1
