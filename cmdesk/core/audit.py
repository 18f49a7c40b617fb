"""Audit: every create, update and delete of a domain record is logged with who, when, the request id and before/after.

The generic change log is django-auditlog's LogEntry (actor, timestamp, cid = our request id, changes as
{field: [before, after]}). Services run their writes inside `acting_as(actor)` so commands and jobs are attributed too;
in web requests AuditlogMiddleware sets the actor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from auditlog.cid import get_cid
from auditlog.context import set_actor
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.signals import pre_save

BATCH = 2000


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


def log_bulk_updates(
    model: type[models.Model],
    rows: Iterable[tuple[Any, str, dict[str, Any]]],
    *,
    additional_data: dict[str, Any] | None = None,
) -> int:
    """Write the UPDATE audit rows of records changed in bulk (``bulk_update`` and ``QuerySet.update`` send no
    signals, so django-auditlog writes nothing for them): one LogEntry per ``(pk, repr, changes)`` with non-empty
    ``changes`` ({field: [before, after]}), attributed as a ``save()`` inside :func:`acting_as` would be (actor,
    remote address, the request's correlation id). Returns how many were written."""
    ct = ContentType.objects.get_for_model(model)
    cid = get_cid()
    entries = []
    for pk, text, changes in rows:
        if not changes:
            continue
        entry = LogEntry(
            content_type=ct,
            object_pk=str(pk),
            object_id=pk if isinstance(pk, int) else None,
            object_repr=text,
            action=LogEntry.Action.UPDATE,
            changes=changes,
            cid=cid,
            additional_data=additional_data,
        )
        # the receivers set_actor connects fill in the actor and the remote address, as for a saved entry
        pre_save.send(sender=LogEntry, instance=entry, raw=False, using=None, update_fields=None)
        entries.append(entry)
    LogEntry.objects.bulk_create(entries, batch_size=BATCH)
    return len(entries)


def changes_of(old: models.Model, new: models.Model, fields: Sequence[str]) -> dict[str, Any]:
    """The changes {field: [before, after]} between two states of one record, restricted to ``fields``, as
    django-auditlog's own receiver computes them (for :func:`log_bulk_updates`)."""
    json_changes = getattr(settings, "AUDITLOG_STORE_JSON_CHANGES", False)
    return model_instance_diff(old, new, fields_to_check=fields, use_json_for_changes=json_changes) or {}


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
