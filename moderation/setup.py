"""Build the `Moderator` from `config.yml` (`moderation:`) and the trained heads next to the model."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import FancareConfig
from moderation.actions import ModerationActions
from moderation.crisis import CrisisMonitor
from moderation.rules import STANDARD_RULES, ModerationPolicy, Rule
from moderation.service import Moderator
from moderation.signals import HEADS_FILE, ModerationHeads, SignalExtractor

log = logging.getLogger("fancare.moderation")


def build_policy(cfg: FancareConfig) -> ModerationPolicy:
    m = cfg.moderation
    rules = [Rule(r.name, r.action, r.pattern, r.signal, r.min_score, r.strike, r.mute_minutes, r.notice,
                  tuple(r.chats) if r.chats is not None else None) for r in m.rules]
    if m.preset == "standard":
        names = {r.name for r in rules}
        rules += [r for r in STANDARD_RULES if r.name not in names]
    return ModerationPolicy(rules, dry_run=m.dry_run, admins=set(m.admins), trusted=set(m.trusted),
                            mute_after=m.strikes.mute_after, ban_after=m.strikes.ban_after,
                            strike_decay_days=m.strikes.decay_days, dry_run_chats=set(m.dry_run_chats))


def platform_ports(cfg: FancareConfig) -> dict[str, ModerationActions]:
    """The platforms' moderation ports from config (Telegram), by channel name."""
    ports: dict[str, ModerationActions] = {}
    tg = cfg.channels.telegram
    if tg is not None and tg.enabled:
        from moderation.telegram_actions import TelegramActions

        ports["telegram"] = TelegramActions.from_config(tg)
    return ports


async def close_ports(ports: dict[str, ModerationActions]) -> None:
    """Close the ports' HTTP clients (a CLI command built them for one decision)."""
    for port in ports.values():
        close = getattr(port, "close", None)
        if close is not None:
            await close()


def load_heads(model_dir: Path) -> ModerationHeads | None:
    """The trained moderation heads next to the model, None (said in the log) when there are none."""
    heads = ModerationHeads.load(model_dir / HEADS_FILE)
    if heads is None:
        log.info("no moderation heads in %s (run `fancare train`); lexicons score sentiment and toxicity", model_dir)
    return heads


def build_moderator(cfg: FancareConfig, model_dir: Path, *, with_heads: bool = True) -> Moderator:
    """`with_heads=False`: start on the lexicons and leave the heads to the caller (`load_heads`).
    Unpickling them imports sklearn and scipy (~95 MB, seconds), which a receiver, judging only the
    group edits it receives once its NLU model loaded (bot/lazy_nlu.py), pays only then."""
    m = cfg.moderation
    heads = load_heads(model_dir) if with_heads else None
    c = m.crisis
    crisis = CrisisMonitor(window_minutes=c.window_minutes, short_minutes=c.short_minutes, z_threshold=c.z_threshold,
                           min_count=c.min_count, ratio_threshold=c.ratio_threshold,
                           cooldown_minutes=c.cooldown_minutes) if c.enabled else None
    return Moderator(policy=build_policy(cfg), actions=platform_ports(cfg),
                     extractor=SignalExtractor(heads, allowed_hosts=set(m.allowed_links),
                                               flood_window_s=m.flood_window_s, phone_regions=m.phone_regions,
                                               order_pattern=cfg.orders.number_pattern),
                     crisis=crisis, notice_text=m.notice_text, appeal_queue=m.appeal_queue)
