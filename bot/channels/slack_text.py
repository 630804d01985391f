"""Text crossing the Slack boundary, in both directions.

Fan -> Slack: fan text is data, never markup. `&`, `<`, `>` are escaped (so `<!channel>`,
`<@U123>` and `<https://evil|bank>` cannot be formed), bidi controls that could reorder what an
operator reads are removed, mrkdwn formatting characters (`*_~` and backticks) are neutralised
with zero-width joiners, and personal data is masked when the config asks for it.

Slack -> fan: operators write Slack mrkdwn; fans get plain text (entities decoded, `<url|label>`
links spelled out, mentions reduced to names), which each fan channel then escapes for itself.
"""

from __future__ import annotations

import re

_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{6,}\d(?!\w)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def escape(text: str) -> str:
    """Make `text` inert in Slack mrkdwn: control characters of both kinds gone, markup escaped."""
    text = _BIDI.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: Slack mrkdwn's formatting characters: *bold*, _italic_, ~strike~, `code` (and ``` blocks)
_MRKDWN = re.compile(r"([*_~`])")
_ZWJ = "\u200d"


def neutral(text: str) -> str:
    """Fan text that Slack shows as typed, never as formatting: each of `* _ ~ \`` that could open or
    close a span is glued between zero-width joiners. One inside a word (`action_lookup_order`,
    `2*3`) cannot format anything and stays as is, so identifiers remain copyable. Apply after `escape`."""

    def glue(m: re.Match[str]) -> str:
        i = m.start()
        if 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum():
            return m.group(0)
        return _ZWJ + m.group(0) + _ZWJ

    return _MRKDWN.sub(glue, text)


def fan_name_for_slack(name: str | None) -> str:
    """A fan's display name in a card: no bidi or control characters, inert in mrkdwn."""
    from bot.store.clean import display_name

    return neutral(escape(display_name(name) or "unknown"))


def mask_personal_data(text: str) -> str:
    """Replace e-mail addresses, payment card numbers and phone numbers with placeholders.

    Any run of 13-19 digits (with spaces or dashes) is treated as a card number, mistyped or not;
    anything else with 7-15 digits that looks like a phone number is masked too, erring on the side
    of privacy. Dates and short order numbers (VT-123456) stay readable."""

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "[card number]" if 13 <= len(digits) <= 19 else m.group(0)

    def phone(m: re.Match[str]) -> str:
        if _DATE.fullmatch(m.group(0).strip()):
            return m.group(0)
        digits = re.sub(r"\D", "", m.group(0))
        return "[phone number]" if 7 <= len(digits) <= 15 else m.group(0)

    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub(card, text)
    return _PHONE.sub(phone, text)


def fan_text_for_slack(text: str, *, mask: bool, limit: int = 2900) -> str:
    """What operators see of a fan's message (Slack section blocks take at most 3000 chars)."""
    if mask:
        text = mask_personal_data(text)
    if len(text) > limit:
        text = text[:limit] + "…"
    return neutral(escape(text))


def slack_to_plain(text: str) -> str:
    """An operator's mrkdwn as plain text for a fan."""

    def link(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith(("@", "#")):
            return label or target
        if target.startswith("!"):
            return label or ""
        if target.startswith("mailto:"):
            return label or target[len("mailto:"):]
        return f"{label} ({target})" if label and label != target else target

    text = _SLACK_LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def mention_user(operator: str | None) -> str:
    """`slack:U123` (how Slack operators are stored) as a mention; other operators by name."""
    if operator and operator.startswith("slack:"):
        return f"<@{operator[len('slack:'):]}>"
    return escape(operator or "nobody")
