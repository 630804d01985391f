"""The shipped demo's dialog policy for unit tests: domain with its translations, flows, the order
table and the email-or-postcode ownership check, as `fancare` wires them (bot/app.py)."""

from __future__ import annotations

from bot.order_owner import OwnerCheck
from bot.orders import CsvOrderTable
from dialogs.actions import ActionRegistry
from dialogs.builtin_actions import builtin_actions
from dialogs.domain import Domain
from dialogs.flows import load_flows
from dialogs.policy import DialogPolicy
from dialogs.translation_files import load_translations
from tests.conftest import REPO


def owner_checked_demo_policy() -> DialogPolicy:
    domain = Domain.load(REPO / "dialogs" / "domain.yml")
    domain.use_translations(load_translations(REPO / "dialogs" / "translations"))
    orders = CsvOrderTable(REPO / "dialogs" / "demo_orders.csv")
    registry = builtin_actions(ActionRegistry(), orders=orders, phrase=domain.phrase,
                               owner=OwnerCheck(verify="email_or_postcode"))
    flows = load_flows([REPO / "dialogs" / "flows.yml"], responses=set(domain.responses),
                       actions=registry.names() | {"action_record_csat"})
    return DialogPolicy(domain, None, orders, flows=flows, actions=registry)
