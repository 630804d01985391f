"""`/fancare poll ...` and `/fancare giveaway ...`: the CLI's grammar (dialogs.engagement_commands)
behind the console's operator check. Slack's markup is undone first (`&amp;`, links), and smart
quotes typed by Slack clients count as quotes. A draw that needs a membership check is left to the
engagement timer of the running Telegram channel (Slack cannot ask Telegram)."""

from __future__ import annotations

import shlex

from bot.app import App
from bot.channels.slack_text import slack_to_plain
from dialogs.engagement_commands import CommandError, run, slack_parser

MAX_REPLY = 3500  # a slash-command answer stays readable (and under Slack's limits)


async def engagement_command(app: App, sub: str, args: list[str], operator: str) -> str:
    text = slack_to_plain(" ".join([sub, *args]))
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        parsed = slack_parser().parse_args(shlex.split(text))
        out = await run(app.engagement, parsed, operator, None)
    except CommandError as exc:
        return f"{exc}"
    except ValueError as exc:  # shlex: unbalanced quotes
        return f"could not read the command: {exc}"
    if sub == "giveaway" and parsed.giveaway_command in ("export", "publish"):
        out = f"```{out}```"
    return out if len(out) <= MAX_REPLY else out[:MAX_REPLY] + "\n… (truncated: use the CLI for the full output)"
