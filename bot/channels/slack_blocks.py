"""Block Kit for the escalation card. Pure functions of a `CardInfo` snapshot, so the card can be
rendered when it is queued and re-rendered for `chat.update` after a claim or a close."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.channels.slack_text import escape, fan_name_for_slack, fan_text_for_slack, mention_user

ACTION_CLAIM = "fancare_claim"
ACTION_RESOLVE = "fancare_resolve"
ACTION_HANDBACK = "fancare_handback"
PRIORITY_ICON = {"urgent": ":rotating_light:", "high": ":large_orange_circle:", "normal": ":large_blue_circle:",
                 "low": ":white_circle:"}


@dataclass(frozen=True)
class CardInfo:
    escalation_id: int
    queue: str
    priority: str
    state: str
    claimed_by: str | None
    fan_name: str | None
    fan_channel: str
    language: str | None
    reason: dict[str, Any]
    transcript: list[dict[str, Any]] = field(default_factory=list)


def card_text(info: CardInfo) -> str:
    """The notification / fallback text (no fan text: it can end up in push notifications)."""
    return f"Escalation #{info.escalation_id} [{info.priority}] in {info.queue}"


def card_blocks(info: CardInfo, *, mask: bool, messages: int, mention: str | None = None) -> list[dict[str, Any]]:
    r = info.reason or {}
    conf = r.get("confidence")
    reason = f"intent `{escape(str(r.get('intent', '?')))}`"
    if isinstance(conf, int | float):
        reason += f" ({conf:.0%})"
    raw_signals = r.get("signals")
    signals: dict[str, Any] = raw_signals if isinstance(raw_signals, dict) else {}
    sentiment = r.get("sentiment") or signals.get("sentiment")
    reason += f", sentiment {escape(str(sentiment))}" if sentiment is not None else ", sentiment not measured"
    icon = PRIORITY_ICON.get(info.priority, "")
    head = f"{icon} *Escalation #{info.escalation_id}* · *{escape(info.priority)}* · queue `{escape(info.queue)}`"
    if mention:
        head = f"{mention} {head}"
    fan = (f"*Fan:* {fan_name_for_slack(info.fan_name)} · {escape(info.fan_channel)}"
           f" · language {escape(info.language or r.get('language') or '?')}")
    lines = []
    for t in info.transcript[-messages:]:
        who = {"fan": "fan", "bot": "bot", "operator": "operator"}.get(str(t.get("from")), "note")
        lines.append(f"*{who}:* {fan_text_for_slack(str(t.get('text', '')), mask=mask, limit=300)}")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": fan},
                                       {"type": "mrkdwn", "text": f"*Reason:* {reason}"}]},
    ]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": status_line(info)}]})
    if info.state in ("open", "claimed"):
        value = str(info.escalation_id)
        buttons = []
        if info.state == "open":
            buttons.append({"type": "button", "action_id": ACTION_CLAIM, "value": value, "style": "primary",
                            "text": {"type": "plain_text", "text": "Claim"}})
        buttons.append({"type": "button", "action_id": ACTION_RESOLVE, "value": value,
                        "text": {"type": "plain_text", "text": "Resolve"}})
        buttons.append({"type": "button", "action_id": ACTION_HANDBACK, "value": value,
                        "text": {"type": "plain_text", "text": "Hand back to bot"}})
        blocks.append({"type": "actions", "block_id": f"fancare_esc_{value}", "elements": buttons})
    return blocks


def status_line(info: CardInfo) -> str:
    if info.state == "open":
        return "Unclaimed. Replies in this thread stay internal until someone claims it."
    if info.state == "claimed":
        return f"Claimed by {mention_user(info.claimed_by)}: their replies in this thread go to the fan."
    word = "Resolved" if info.state == "resolved" else "Handed back to the bot"
    return f"{word} by {mention_user(info.claimed_by)}."
