"""Slack roles through the fake Slack server: with `channels.slack.admins` set, banning, the crisis
playbook switch, creating giveaways and resolving another operator's ticket are for admins only; the
claimer may resolve their own ticket. With no admin configured, roles are off (every operator may)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.channels.slack_blocks import ACTION_HANDBACK, ACTION_RESOLVE
from bot.channels.slack_moderation import ACTION_BAN, ACTION_CRISIS_ON
from bot.store import AuditEvent, Escalation
from bot.store.moderation_models import ModerationItem
from moderation.telegram_actions import TelegramActions
from tests.fakes.telegram_server import TOKEN

ADMIN = "UADMIN"
OPERATOR, OTHER = "UOP1", "UOP2"
GIVEAWAY = 'giveaway create --prize "Pulse 3 watch" --winners 1 --keyword "#win" --closes 2h'


@pytest.fixture
def slack_config(slack_config):
    return slack_config.model_copy(update={"admins": [ADMIN]})


def refused(slack) -> list[dict]:
    with slack.app.store.session() as s:
        return [e.data for e in s.scalars(select(AuditEvent).where(AuditEvent.kind == "slack.refused"))]


def ephemerals(slack, user: str) -> list[str]:
    return [str(p.get("text")) for p in slack.fake.called("chat.postEphemeral") if p.get("user") == user]


def flagged_item(slack) -> int:
    with slack.app.store.session() as s:
        item = ModerationItem(channel="telegram", chat_id="-100555", user_id="31337", action="flag", rule="r")
        s.add(item)
        s.flush()
        return item.id


async def click_on_card(slack, item_id: int, user: str, action_id: str = ACTION_BAN) -> None:
    from tests.moderation.test_moderation_slack import click

    channel, ts = slack.card_location(await slack.escalate(user=f"fan-{item_id}-{user}"))
    await click(slack, action_id, str(item_id), user, channel, ts)


async def test_ban_is_for_admins(slack, telegram_server):
    slack.app.pipeline.moderator.actions["telegram"] = TelegramActions(Bot(TOKEN, base_url=telegram_server.base_url))
    item_id = flagged_item(slack)
    await click_on_card(slack, item_id, OPERATOR)
    assert not [c for c in telegram_server.calls if c.method == "banChatMember"]
    with slack.app.store.session() as s:
        assert s.get(ModerationItem, item_id).status == "pending"
    assert any("only fancare admins can ban" in t for t in ephemerals(slack, OPERATOR))
    assert {"action": "ban a fan", "escalation_id": None, "needs": "admin"} in refused(slack)

    await click_on_card(slack, item_id, ADMIN)
    assert [c for c in telegram_server.calls if c.method == "banChatMember"]
    with slack.app.store.session() as s:
        item = s.get(ModerationItem, item_id)
        assert item.status == "banned" and item.decided_by == f"slack:{ADMIN}"


async def test_crisis_playbook_is_for_admins(slack):
    answer = await slack.command("crisis on We are on it.", OPERATOR)
    assert "only fancare admins can switch the crisis playbook" in answer
    assert not slack.app.playbook.state(fresh=True).on
    await click_on_card(slack, 0, OPERATOR, action_id=ACTION_CRISIS_ON)  # the alert's button
    assert not slack.app.playbook.state(fresh=True).on
    assert len([d for d in refused(slack) if "crisis" in d["action"]]) == 2
    assert "only fancare admins" not in await slack.command("crisis", OPERATOR)  # the status stays open
    assert "Crisis playbook ON" in await slack.command("crisis on We are on it.", ADMIN)
    assert slack.app.playbook.state(fresh=True).on
    assert "only fancare admins" in await slack.command("crisis off", OPERATOR)
    assert slack.app.playbook.state(fresh=True).on
    await slack.command("crisis off", ADMIN)
    assert not slack.app.playbook.state(fresh=True).on


async def test_giveaway_create_is_for_admins(slack):
    answer = await slack.command(GIVEAWAY, OPERATOR)
    assert "only fancare admins can create giveaways" in answer
    assert "no giveaways" in (await slack.command("giveaway list", OPERATOR)).lower()
    answer = await slack.command(GIVEAWAY, ADMIN)
    assert "only fancare admins" not in answer and "Pulse 3 watch" in answer


async def test_resolving_another_operators_ticket_is_for_admins(slack):
    esc = await slack.escalate(user="u1")
    assert "claimed" in await slack.command(f"claim {esc}", OPERATOR)
    await slack.click(ACTION_RESOLVE, esc, OTHER)
    await slack.click(ACTION_HANDBACK, esc, OTHER)
    assert "only fancare admins" in await slack.command(f"resolve {esc}", OTHER)
    with slack.app.store.session() as s:
        assert s.get(Escalation, esc).resolved_at is None
    assert len([t for t in ephemerals(slack, OTHER) if "only fancare admins" in t]) == 2
    assert len([d for d in refused(slack) if d["escalation_id"] == esc]) == 3
    await slack.click(ACTION_RESOLVE, esc, OPERATOR)  # the claimer may
    with slack.app.store.session() as s:
        assert s.get(Escalation, esc).state == "resolved"

    esc2 = await slack.escalate(user="u2")
    await slack.command(f"claim {esc2}", OPERATOR)
    await slack.click(ACTION_HANDBACK, esc2, ADMIN)  # an admin may resolve anyone's
    with slack.app.store.session() as s:
        assert s.get(Escalation, esc2).state == "handed_back"


async def test_privacy_still_needs_an_admin_and_roles_off_keeps_todays_behaviour(slack, caplog):
    from bot.channels.slack_roles import Roles

    cfg = slack.console.cfg.model_copy(update={"admins": []})
    roles = Roles(cfg, slack.console.access)
    with caplog.at_level("WARNING"):
        roles.warn_if_off()
    assert "roles are off" in caplog.text
    assert await roles.may_admin(OPERATOR) and not await roles.may_admin("UNOBODY")
    assert not await roles.is_admin(OPERATOR)
    assert await slack.console.roles.role_of(ADMIN) == "admin"
    assert await slack.console.roles.role_of(OPERATOR) == "operator"
    assert await slack.console.roles.role_of("UGRP1") == "operator"
    assert await slack.console.roles.role_of("UNOBODY") is None
    grouped = Roles(cfg.model_copy(update={"admin_group": "SOPS"}), slack.console.access)  # usergroups.users.list
    assert grouped.enforced and await grouped.role_of("UGRP1") == "admin"
    assert await grouped.role_of(OPERATOR) == "operator"
