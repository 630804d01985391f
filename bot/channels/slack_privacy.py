"""`/fancare privacy export|erase CHANNEL USER`: GDPR requests from Slack, for admins only.

Admins are `channels.slack.admins` / `admin_group` (bot/channels/slack_roles.py); anyone else (operators included) gets an
ephemeral refusal and the attempt is audited. Erase goes through `bot.privacy.erase`, so the fan's
Slack card is edited and the relayed messages deleted through the durable outbox; export answers
with the JSON (cut to what fits in a Slack message; the CLI prints all of it).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot import privacy

log = logging.getLogger("fancare.slack.privacy")
USAGE = "usage: `/fancare privacy export CHANNEL USER` | `/fancare privacy erase CHANNEL USER` (e.g. `telegram 12345`)"
REFUSED = ("Sorry, `/fancare privacy` is for fancare admins only (channels.slack.admins). "
           "This attempt has been recorded.")
MAX_EXPORT_CHARS = 3000


async def privacy_command(console: Any, user: str | None, args: list[str]) -> str:
    store = console.app.store
    if not await console.roles.is_admin(user):  # an admin even when roles are off (slack_roles.py)
        with store.session() as s:
            store.audit(s, "slack.unauthorized", actor=f"slack:{user}", data={"action": "command:privacy"})
        log.warning("refused Slack user %s: /fancare privacy (not an admin)", user)
        return REFUSED
    words = " ".join(args).split()
    if len(words) != 3 or words[0].lower() not in ("export", "erase"):
        return USAGE
    action, channel, fan = words[0].lower(), words[1], words[2]
    training_dir = privacy.training_dir_of(console.app.cfg)
    if action == "export":
        data = privacy.export(store, channel, fan, training_dir)
        if data is None:
            return f"No fan `{channel}:{fan}` is stored."
        text = json.dumps(data, indent=1, ensure_ascii=False)
        cut = len(text) > MAX_EXPORT_CHARS
        text = text[:MAX_EXPORT_CHARS].replace("```", "`\u200b``")
        more = "\n(cut; `fancare privacy export` on the server prints all of it)" if cut else ""
        return f"Data stored about `{channel}:{fan}`:\n```{text}```{more}"
    res = privacy.erase(store, channel, fan, actor=f"slack:{user}", training_dir=training_dir)
    if not res.found:
        return f"No fan `{channel}:{fan}` is stored."
    return f"`{channel}:{fan}` {res.describe()}."
