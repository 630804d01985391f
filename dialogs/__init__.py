"""Dialog management: the domain (responses), forms and the policy that picks the next actions."""

from dialogs.domain import Button, Domain, Outgoing
from dialogs.policy import Decision, DialogPolicy, EscalationRequest, Turn

__all__ = ["Button", "Decision", "DialogPolicy", "Domain", "EscalationRequest", "Outgoing", "Turn"]
