"""The SQL store: models, migrations and the one `Store` that every layer writes through."""

from bot.store.models import AuditEvent, Contact, Conversation, Escalation, Message, NLUResult
from bot.store.store import InboundRecord, Store

__all__ = ["AuditEvent", "Contact", "Conversation", "Escalation", "InboundRecord", "Message",
           "NLUResult", "Store"]
