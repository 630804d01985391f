"""Where a message is decides what a verdict may do (issue 12, item 1: context-aware policy).

- **private** — a fan's own chat with the brand (Telegram `chat_type: private`, and the shell/test
  channels, which carry no chat type). A customer is never dropped without a word: nothing is hidden,
  muted or banned there except scam/phishing links (`scam_link`); insults become a flag (for review,
  no strike) and get a calm boundary reply while the request is still served; flood and repeats get
  one "I'm reading, one moment" and every message is answered; the fan's own phone, e-mail, card or
  order number is not hidden (logs mask it as everywhere); the NLU's `spam` reading (`spam-intent`)
  is not even flagged there: a customer the NLU misreads is answered as its next-best intent.
- **group** — groups and supergroups: hide / mute / ban with strikes, as the rules say.
- **comment** — a comment under a channel post (`channel_post` in the meta): like a group.
- A conversation **owned by a human** (open or claimed escalation): every fan message reaches the
  operator, flagged when toxic (`relay_text`), whatever the verdict did on the platform.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moderation.rules import Verdict

PRIVATE, GROUP, COMMENT = "private", "group", "comment"
PUBLIC_CHAT_TYPES = frozenset({"group", "supergroup", "channel"})
ABUSIVE_SIGNALS = ("offensive", "hate")
ABUSIVE_RULES = ("hate", "threat-or-slur", "offensive", "offensive-maybe")
#: a private-chat message is met with a boundary reply from this offensive or hate score
BOUNDARY_SCORE = 0.6


def where(meta: dict[str, Any] | None) -> str:
    """The message's context from the channel's meta."""
    meta = meta or {}
    if meta.get("channel_post"):
        return COMMENT
    if meta.get("chat_type") in PUBLIC_CHAT_TYPES:
        return GROUP
    return PRIVATE


def is_scam(verdict: Verdict) -> bool:
    """A scam or phishing link: the one thing silenced even in a private chat."""
    reasons = verdict.details.get("reasons") or ()
    return verdict.signal == "spam.scam_link" or "scam_link" in reasons


def is_toxic(verdict: Verdict, signals: Any = None) -> bool:
    """Insults, hate, threats: what an operator is warned about on a relayed message."""
    if verdict.rule in ABUSIVE_RULES or (verdict.signal or "") in ABUSIVE_SIGNALS:
        return verdict.action != "allow" or bool(verdict.details.get("would_be"))
    if signals is not None:
        return any(signals.score(s) >= BOUNDARY_SCORE for s in ABUSIVE_SIGNALS)
    return False


def in_context(verdict: Verdict, context: str) -> Verdict:
    """The verdict as it applies where the message is. Groups and comments: unchanged. Private:
    scam links unchanged; personal data, flood, repeats and the spam intent allowed; anything else at
    most a flag, without a strike. The original action is kept in `details["would_be"]`."""
    if context != PRIVATE or verdict.action == "allow" or is_scam(verdict):
        return verdict
    signal = verdict.signal or ""
    details = {**verdict.details, "context": PRIVATE, "would_be": verdict.action, "strike": 0.0}
    details.pop("strikes", None)
    details.pop("escalated_from", None)
    if signal.startswith("pii") or signal in ("flood", "repeat", "zalgo", "spam_intent"):
        return replace(verdict, action="allow", details=details)
    if verdict.action == "flag":
        return replace(verdict, details=details)
    return replace(verdict, action="flag", details=details)


def relay_text(text: str, verdict: Verdict, signals: Any = None) -> str:
    """What the operator gets for a fan message in a conversation a human owns: never hidden,
    prefixed with a warning when it is toxic or was acted on."""
    if is_toxic(verdict, signals):
        rule = verdict.rule or "offensive"
        return f"⚠️ flagged ({rule}): {text}"
    if verdict.action != "allow":
        return f"⚠️ {verdict.action} ({verdict.rule}): {text}"
    return text
