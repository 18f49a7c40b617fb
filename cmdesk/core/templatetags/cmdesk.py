"""Presentation helpers for the templates (no business rules here: labels, colours, links)."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext as _

register = template.Library()

EMPTY = "—"


@register.filter
def weekday_names(value: Any) -> str:
    """[0, 3] → "Monday, Thursday" (translated); empty → "—"."""
    from cmdesk.retail.choices import Weekday

    if not value:
        return EMPTY
    labels = dict(Weekday.choices)
    return ", ".join(str(labels.get(day, day)) for day in value)


@register.filter
def status_colour(value: str) -> str:
    """Bootstrap colour of a retailer status."""
    from cmdesk.retail.choices import STATUS_COLOUR

    return STATUS_COLOUR.get(value, "secondary")


@register.simple_tag
def field_rows(obj: models.Model, names: str) -> list[dict[str, Any]]:
    """Label and display value of each named field, for the detail pages' definition lists."""
    rows = []
    for name in names.split():
        field = obj._meta.get_field(name)
        value = getattr(obj, name)
        if field.choices and value not in (None, ""):
            value = getattr(obj, f"get_{name}_display")()
        rows.append(
            {
                "name": name,
                "label": field.verbose_name,
                "value": value,
                "is_bool": isinstance(value, bool),
                "empty": value is None or value == "",
            }
        )
    return rows


@register.simple_tag
def audit_value(obj: models.Model, field_name: str, value: Any) -> str:
    """An audit log value as a person reads it: the choice label instead of the stored code, "—" for nothing."""
    if value in (None, "", "None"):
        return EMPTY
    try:
        field = obj._meta.get_field(field_name)
    except FieldDoesNotExist:
        return str(value)
    if getattr(field, "choices", None):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return _("Yes") if str(value) == "True" else _("No")
    return str(value)


@register.simple_tag(takes_context=True)
def nav_active(context: template.Context, prefix: str) -> str:
    """ "active" when the current view's name starts with ``prefix`` (e.g. "retail:retailer")."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    return "active" if match.view_name.startswith(prefix) else ""


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return EMPTY
    return f"{value * 100:.{digits}f}%"
