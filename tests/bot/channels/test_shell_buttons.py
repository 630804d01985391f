"""The shell: picking a numbered button is a press; typing its payload is ordinary text."""

from __future__ import annotations

import io

from sqlalchemy import select

from bot.channels.shell import run_shell
from bot.store import Escalation


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_picked_button_is_a_press_and_typed_payload_is_text(app):
    out = io.StringIO()
    # a typed payload is words, never a forced intent: `/qzx_vv9` means nothing (no ticket); the second
    # miss offers the button, and pressing it is what opens the ticket. (Not `/restart_flow_x9`: its
    # words "restart flow" read as a help question, faq 0.6, once TF-IDF became the default.)
    lines = "/qzx_vv9\nasdf qwer zxcv\n1\n"
    assert await run_shell(app, user_id="u9", display_name="Sam", stdin=_Tty(lines), stdout=out) == 0
    text = out.getvalue()
    assert "[1] Talk to a human" in text and "ticket #" in text
    with app.store.session() as s:
        escs = list(s.scalars(select(Escalation)))
    assert len(escs) == 1
    assert text.index("[1] Talk to a human") < text.index("ticket #")  # the ticket came from the press
