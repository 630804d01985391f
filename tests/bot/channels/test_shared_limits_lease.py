"""A reply waiting for its shared send slot (bot/ops/rate_limits.py) keeps its send lease, so no
other worker claims it again and it goes out once: end to end through the fake Bot API."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.ops.rate_limits import SharedTelegramLimits
from tests.fakes.telegram_server import message, user


async def test_a_reply_waiting_for_its_shared_slot_keeps_its_send_lease_and_goes_out_once(tg: Any) -> None:
    # shared on SQLite (forced): a private chat's burst of 3, then one send per 5 s, far longer than the lease
    h = await tg(rate_limits={"chat_per_s": 0.2, "shared": True})
    assert isinstance(h.app.pipeline.channels["telegram"].bot.rate_limiter, SharedTelegramLimits)
    h.app.pipeline.send_lease_s = 1.5
    fake = h.fake
    for text in ("how long does shipping to Germany take?", "hello!", "do you ship to Spain?", "thanks!"):
        fake.push({"message": message(fake, 1001, text, from_user=user(1001))})
    await h.until_handled(4, timeout=60)
    await fake.wait_for(lambda: len(fake.calls_of("sendMessage")) >= 4, timeout=30)
    await asyncio.sleep(0.5)
    calls = fake.calls_of("sendMessage", ok_only=False)
    texts = [c.params.get("text") for c in calls]
    assert len(texts) == len(set(texts)), texts  # none claimed again while it waited
    assert calls[3].at - calls[0].at >= 4.5  # the 4th really waited for its slot
    assert h.app.pipeline.metrics["possible_duplicate_sends"] == 0
