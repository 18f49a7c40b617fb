"""Audit: every create, update and delete of a domain record is logged with who, when, the request id and before/after.

The generic change log is django-auditlog's LogEntry (actor, timestamp, cid = our request id, changes as
{field: [before, after]}). Services run their writes inside `acting_as(actor)` so commands and jobs are attributed too;
in web requests AuditlogMiddleware sets the actor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from auditlog.context import set_actor
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.db import models


def register(model: type[models.Model], **kwargs: Any) -> None:
    if not auditlog.contains(model):
        auditlog.register(model, **kwargs)


@contextlib.contextmanager
def acting_as(actor: Any) -> Iterator[None]:
    """Attribute audit rows written inside the block to ``actor`` (a user, or None for the system).

    An actor without a database row (None, an anonymous user, the command line's system operator) writes
    unattributed rows."""
    if actor is None or not getattr(actor, "is_authenticated", False) or getattr(actor, "pk", None) is None:
        yield
        return
    with set_actor(actor):
        yield


def history_for(obj: models.Model, limit: int = 50) -> list[dict[str, Any]]:
    """The audit entries of one record, newest first, with each change as (field label, before, after)."""
    entries = LogEntry.objects.get_for_object(obj).select_related("actor").order_by("-timestamp", "-id")[:limit]
    fields = {f.name: f for f in obj._meta.get_fields() if hasattr(f, "verbose_name")}
    result = []
    for entry in entries:
        changes = []
        for name, values in (entry.changes_dict or {}).items():
            field = fields.get(name)
            label = str(field.verbose_name) if field is not None else name
            before, after = (values + [None, None])[:2] if isinstance(values, list) else (None, values)
            changes.append({"field": name, "label": label, "before": before, "after": after})
        result.append({"entry": entry, "changes": changes})
    return result
