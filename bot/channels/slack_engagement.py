"""`/fancare poll ...` and `/fancare giveaway ...`: the CLI's grammar (dialogs.engagement_commands)
behind the console's operator check. Slack's markup is undone first (`&amp;`, links), and smart
quotes typed by Slack clients count as quotes. A draw that needs a membership check is left to the
engagement timer of the running Telegram channel (Slack cannot ask Telegram)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.app import App
from bot.channels.slack import REFUSAL
from bot.channels.slack_roles import refusal
from bot.channels.slack_text import slack_to_plain
from dialogs.engagement_commands import CommandError, run, slack_parser, when

MAX_REPLY = 3500  # a slash-command answer stays readable (and under Slack's limits)


def _confine_files(root: str | None, parsed: Any) -> None:
    """A Slack user names files only inside `channels.slack.files_dir` (never an arbitrary server path):
    `--file F` and `giveaway verify F` (a giveaway id stays an id). Rewrites them to the checked path."""
    for attr in ("file", "target"):
        value = getattr(parsed, attr, None)
        if value is None or (attr == "target" and str(value).isdigit()):
            continue
        if not root:
            raise CommandError("Slack commands cannot read files on the server: set channels.slack.files_dir "
                               "and put the file there, or use the CLI")
        base = Path(root).resolve()
        path = (base / str(value)).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            raise CommandError(f"refused: {value!r} is not a file inside the configured folder "
                               "(channels.slack.files_dir); give a name relative to it")
        setattr(parsed, attr, str(path))


async def engagement_command(app: App, sub: str, args: list[str], operator: str, *,
                             files_dir: str | None = None) -> str:
    text = slack_to_plain(" ".join([sub, *args]))
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        parsed = slack_parser().parse_args(shlex.split(text))
        _confine_files(files_dir, parsed)
        out = await run(app.engagement, parsed, operator, None)
    except CommandError as exc:
        return f"{exc}"
    except ValueError as exc:  # shlex: unbalanced quotes
        return f"could not read the command: {exc}"
    if sub == "giveaway" and parsed.giveaway_command in ("export", "publish"):
        out = f"```{out}```"
    return out if len(out) <= MAX_REPLY else out[:MAX_REPLY] + "\n… (truncated: use the CLI for the full output)"


# -- the "create a poll" modal (`/fancare poll create` without arguments) ----------------------------
POLL_MODAL = "fancare_poll_create"
_FIELDS = (("question", "Question", False, "Which strap colour next?"),
           ("options", "Options, one per line (2 to 10)", True, "Midnight blue\nSky blue"),
           ("chats", "Target chat ids, separated by commas", False, "-1001234567890"),
           ("closes", "Closes (30m, 2h, 3d or 2026-12-01T18:00 UTC; empty: never)", False, "2h"))
_FLAGS = (("multiple", "Multiple choice"), ("anonymous", "Anonymous"), ("locked", "Votes cannot be changed"),
          ("buttons", "Buttons instead of a native poll"))


def poll_modal(channel_id: str) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "input", "block_id": name, "optional": name == "closes",
         "label": {"type": "plain_text", "text": label},
         "element": {"type": "plain_text_input", "action_id": "value", "multiline": multi,
                     "placeholder": {"type": "plain_text", "text": hint}}}
        for name, label, multi, hint in _FIELDS]
    blocks.append({"type": "input", "block_id": "flags", "optional": True,
                   "label": {"type": "plain_text", "text": "Settings"},
                   "element": {"type": "checkboxes", "action_id": "value", "options": [
                       {"text": {"type": "plain_text", "text": text}, "value": value} for value, text in _FLAGS]}})
    return {"type": "modal", "callback_id": POLL_MODAL, "private_metadata": channel_id,
            "title": {"type": "plain_text", "text": "New poll"}, "submit": {"type": "plain_text", "text": "Create"},
            "close": {"type": "plain_text", "text": "Cancel"}, "blocks": blocks}


async def open_poll_modal(client: AsyncWebClient, trigger_id: str, channel_id: str) -> None:
    await client.views_open(trigger_id=trigger_id, view=poll_modal(channel_id))


def install_poll_modal(console: Any) -> None:
    """Register the modal's submission handler on the console's bolt app (operators only)."""

    async def on_submit(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = (body.get("user") or {}).get("id")
        if not await console._authorized(user, "command:poll"):
            await ack(response_action="errors", errors={"question": REFUSAL})
            return
        if not await console.admin_allowed(user, "command:poll create polls"):
            await ack(response_action="errors", errors={"question": refusal("create polls")})
            return
        values = (view.get("state") or {}).get("values") or {}

        def field(name: str) -> str:
            return str(((values.get(name) or {}).get("value") or {}).get("value") or "").strip()

        flags = {o.get("value") for o in ((values.get("flags") or {}).get("value") or {}).get("selected_options") or []}
        try:
            p = console.app.engagement.polls.create(
                question=field("question"), options=field("options").splitlines(),
                chats=[c.strip() for c in field("chats").split(",") if c.strip()],
                closes_at=when(field("closes") or None), multiple="multiple" in flags,
                anonymous="anonymous" in flags, changeable="locked" not in flags,
                style="buttons" if "buttons" in flags else None, actor=f"slack:{user}")
        except (CommandError, ValueError) as exc:
            await ack(response_action="errors", errors={"options": str(exc)[:150]})
            return
        await ack()
        await console._ephemeral(view.get("private_metadata") or None, user,
                                 f"Poll #{p.id} created ({p.style}): {p.question}", None)

    console.bolt.view(POLL_MODAL)(on_submit)
