"""`live`: Telegram and the Slack console on one App (tests/dialogs/engagement_harness.py)."""

from tests.dialogs.engagement_harness import live  # noqa: F401
