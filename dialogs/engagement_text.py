"""The words of poll and giveaway messages sent outside a fan's turn, in the right language.

A post to a group or channel (a poll's buttons, its results, a giveaway's opening post and its
draw) has many readers and no single fan language: it is written in the brand's default language
(`brand.default_language`). A notice to one fan (the winner's private message) is written in that
fan's conversation language: the sticky `language` of their private conversation
(nlu/conversation_language.py), else the language their platform reported, else the brand's
default. Without a domain (no translations loaded, e.g. the CLI) everything is English.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Contact, Conversation
from dialogs.domain import Domain
from dialogs.phrases import english
from nlu.conversation_language import STATE_KEY


class Wording:
    """Phrases (dialogs/phrases.py) for engagement posts: `group` for many readers, `say` for one."""

    def __init__(self, domain: Domain | None = None) -> None:
        self.domain = domain

    @property
    def group_language(self) -> str:
        """The language of a post to a group or channel: the brand's default."""
        return self.domain.default_language if self.domain is not None else "en"

    def say(self, key: str, language: str | None, **values: Any) -> str:
        """Phrase `key` in `language` (the domain's fallback order: brand default, then English)."""
        if self.domain is None:
            return english(key, **values)
        return self.domain.phrase(key, language, **values)

    def group(self, key: str, **values: Any) -> str:
        """Phrase `key` for a group or channel post."""
        return self.say(key, self.group_language, **values)


def fan_language(s: Session, channel: str, user_id: str) -> str | None:
    """The language to write to one fan in: their private conversation's sticky language, else any of
    their conversations' (the newest), else their platform's language code ("de-AT" -> "de"); None
    when nothing is known (the caller's fallback order then picks the brand's default)."""
    contact = s.scalar(select(Contact).where(Contact.channel == channel, Contact.external_id == user_id))
    if contact is None:
        return None
    convs = list(s.scalars(select(Conversation).where(Conversation.contact_id == contact.id)
                           .order_by(Conversation.updated_at.desc(), Conversation.id.desc())))
    convs.sort(key=lambda c: c.chat_id != user_id)  # the private chat first (stable: newest next)
    for conv in convs:
        lang = (conv.state or {}).get(STATE_KEY)
        if isinstance(lang, str) and lang and lang != "und":
            return lang
    if contact.language:
        return contact.language.split("-")[0].split("_")[0].lower() or None
    return None
