"""What the operator's close sends the fan (the rating question, "handed back") is in the
conversation's language, like the bot's own replies, and records that language for the report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot import inbox
from bot.store import Escalation, Message
from tests.fakes.recording_channel import RecordingChannel, fan_message


async def test_the_rating_question_after_close_is_in_the_fans_language(app: Any) -> None:
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await app.pipeline.handle(fan_message("hola, quiero hablar con una persona de verdad, por favor", user="es1"))
    with app.store.session() as s:
        esc = s.scalars(select(Escalation).order_by(Escalation.id.desc())).first()
        assert esc is not None
        esc_id = esc.id
    assert inbox.close(app.store, app.domain, esc_id, "op", "resolved").ok
    with app.store.session() as s:
        last = s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id.desc())).first()
        assert last is not None
        assert last.text.startswith(f"Tu ticket #{esc_id} está resuelto")
        assert (last.payload or {}).get("language") == "es"
