"""Writes on routes and retailers. Each is atomic, validated with the model's own rules, audited, and scope-checked:
an edit that would leave the actor's scope is rolled back."""

from __future__ import annotations

import datetime
import functools
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pypinyin import lazy_pinyin

from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm, in_scope, user_scope
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff

from .models import Retailer, Route, RouteAssignment, TierChange

# What a customer manager may change on its own retailers during a visit; the rest (route, tier, status,
# licence) belongs to the department: a CM moving retailers or tiers is exactly the abuse seed 004 describes.
CM_EDITABLE_FIELDS = frozenset(
    {
        "shop_name",
        "owner_name",
        "phone",
        "address",
        "latitude",
        "longitude",
        "business_format",
        "floor_area",
        "display_fixtures",
        "order_method",
        "settlement_method",
        "opened_on",
    }
)
RETAILER_FIELDS = frozenset(
    {
        "licence_no",
        "shop_name",
        "owner_name",
        "phone",
        "address",
        "latitude",
        "longitude",
        "market_type",
        "business_format",
        "floor_area",
        "display_fixtures",
        "order_method",
        "settlement_method",
        "settlement_account",
        "tier",
        "credit_grade",
        "status",
        "route",
        "visit_order",
        "opened_on",
        "closed_on",
    }
)


@functools.lru_cache(maxsize=65536)
def _pinyin_forms(name: str) -> tuple[str, str]:
    syllables = lazy_pinyin(name)  # non-Chinese runs ("24", "KTV") come back as they are
    return "".join(s[:1] for s in syllables).lower(), "".join(syllables).lower()


def search_key(*names: str) -> str:
    """Pinyin initials and full pinyin of the given names, for search: 黄记烟酒 → "hjyj huangjiyanjiu"."""
    parts = []
    for name in names:
        if name:
            parts.extend(_pinyin_forms(name))
    return " ".join(parts)[:200]


def retailer_editable_fields(user: Any) -> frozenset[str]:
    """The retailer fields this user may set (a CM's are limited; see CM_EDITABLE_FIELDS)."""
    if user.is_superuser:
        return RETAILER_FIELDS
    staff = Staff.objects.filter(user=user).only("role").first()
    if staff is not None and staff.role == Role.CM:
        return CM_EDITABLE_FIELDS
    return RETAILER_FIELDS


def _check_route_in_scope(actor: Any, route: Route | None) -> None:
    if route is not None and not Route.objects.restrict(actor, "view").filter(pk=route.pk).exists():
        raise ValidationError({"route": _("This route is not in your area.")})


def _apply(retailer: Retailer, data: dict[str, Any], allowed: frozenset[str]) -> list[str]:
    """Set the fields in ``data`` that differ; refuse unknown fields and fields the actor may not change."""
    unknown = set(data) - RETAILER_FIELDS
    if unknown:
        raise ValidationError({f: _("Unknown field.") for f in sorted(unknown)})

    def current(field: str) -> Any:
        return retailer.route_id if field == "route" else getattr(retailer, field)

    def raw(field: str, value: Any) -> Any:
        return value.pk if field == "route" and value is not None else value

    changed = [f for f, v in data.items() if current(f) != raw(f, v)]
    forbidden = [f for f in changed if f not in allowed]
    if forbidden:
        raise ValidationError({f: _("You may not change this field.") for f in forbidden})
    for field in changed:
        setattr(retailer, field, data[field])
    return changed


@transaction.atomic
def retailer_create(*, actor: Any, data: dict[str, Any], reason: str = "") -> Retailer:
    """Create a retailer on a route inside the actor's scope."""
    if not has_model_perm(actor, Retailer, "add"):
        raise OutOfScope
    retailer = Retailer()
    _apply(retailer, data, RETAILER_FIELDS)
    _check_route_in_scope(actor, retailer.route if retailer.route_id else None)
    retailer.search_key = search_key(retailer.shop_name, retailer.owner_name)
    retailer.full_clean()
    with acting_as(actor):
        retailer.save()
        if retailer.tier is not None:
            TierChange.objects.create(
                retailer=retailer,
                tier_from=None,
                tier_to=retailer.tier,
                effective=timezone.localdate(),
                source=TierChange.Source.INITIAL,
                reason=reason or _("Tier at registration"),
                recorded_by=actor,
            )
    if not in_scope(actor, retailer, "change"):
        raise OutOfScope
    return retailer


@transaction.atomic
def retailer_update(*, actor: Any, retailer: Retailer, data: dict[str, Any], reason: str = "") -> list[str]:
    """Change a retailer the actor may change; returns the fields that changed. Tier changes are kept as history."""
    if not in_scope(actor, retailer, "change"):
        raise OutOfScope
    retailer = Retailer.objects.select_for_update().get(pk=retailer.pk)
    old_tier = retailer.tier
    changed = _apply(retailer, data, retailer_editable_fields(actor))
    if not changed:
        return []
    if "route" in changed:
        _check_route_in_scope(actor, retailer.route)
    if {"shop_name", "owner_name"} & set(changed):
        retailer.search_key = search_key(retailer.shop_name, retailer.owner_name)
    retailer.full_clean()
    with acting_as(actor):
        retailer.save()
        if "tier" in changed:
            TierChange.objects.create(
                retailer=retailer,
                tier_from=old_tier,
                tier_to=retailer.tier,
                effective=timezone.localdate(),
                source=TierChange.Source.MANUAL,
                reason=reason,
                recorded_by=actor,
            )
    if not in_scope(actor, retailer, "change"):
        raise OutOfScope  # rolls the transaction back: nothing of this edit is kept
    return changed


@transaction.atomic
def route_assign_cm(*, actor: Any, route: Route, cm: Staff | None, started: datetime.date, reason: str = "") -> None:
    """Hand a route to another CM (or none), closing the current assignment and keeping the history."""
    if not in_scope(actor, route, "change"):
        raise OutOfScope
    if cm is not None and cm.role != Role.CM:
        raise ValidationError({"cm": _("Only a customer manager can serve a route.")})
    if cm is not None and not Staff.objects.restrict(actor, "view").filter(pk=cm.pk).exists():
        raise ValidationError({"cm": _("This customer manager is not in your area.")})
    route = Route.objects.select_for_update().get(pk=route.pk)
    if route.cm_id == (cm.pk if cm else None):
        return
    with acting_as(actor):
        current = RouteAssignment.objects.filter(route=route, ended__isnull=True).first()
        if current is not None:
            if started < current.started:
                raise ValidationError({"started": _("The new assignment cannot start before the current one.")})
            current.ended = started
            current.save(update_fields=["ended"])
        if cm is not None:
            RouteAssignment.objects.create(route=route, cm=cm, started=started, reason=reason, recorded_by=actor)
        route.cm = cm
        route.save(update_fields=["cm"])
    if not in_scope(actor, route, "change"):
        raise OutOfScope


ROUTE_FIELDS = frozenset(
    {
        "code",
        "name",
        "org_unit",
        "market_type",
        "length_km",
        "visit_cycle_days",
        "order_weekdays",
        "delivery_weekdays",
        "active",
    }
)


def _check_org_in_scope(actor: Any, org_unit: Any) -> None:
    scope = user_scope(actor)
    if scope.kind == "all":
        return
    if scope.kind != "org" or not org_unit.path.startswith(scope.org_path):
        raise ValidationError({"org_unit": _("This org unit is not in your area.")})


@transaction.atomic
def route_create(*, actor: Any, data: dict[str, Any]) -> Route:
    """Create a route (without a CM: route_assign_cm gives it one, with history) under an org unit in scope."""
    if not has_model_perm(actor, Route, "add"):
        raise OutOfScope
    unknown = set(data) - ROUTE_FIELDS
    if unknown:
        raise ValidationError({f: _("Unknown field.") for f in sorted(unknown)})
    route = Route(**data)
    if route.org_unit_id is None:
        raise ValidationError({"org_unit": _("This field is required.")})
    _check_org_in_scope(actor, route.org_unit)
    route.full_clean()
    with acting_as(actor):
        route.save()
    return route


@transaction.atomic
def route_update(*, actor: Any, route: Route, data: dict[str, Any]) -> list[str]:
    """Change a route's own fields (the CM changes through route_assign_cm, which keeps history)."""
    if not in_scope(actor, route, "change"):
        raise OutOfScope
    route = Route.objects.select_for_update().get(pk=route.pk)
    unknown = set(data) - ROUTE_FIELDS
    if unknown:
        raise ValidationError({f: _("Unknown field.") for f in sorted(unknown)})
    changed = [f for f, v in data.items() if getattr(route, f) != v]
    if "code" in changed:
        raise ValidationError({"code": _("A route code cannot change; create a new route instead.")})
    for f in changed:
        setattr(route, f, data[f])
    if "org_unit" in changed:
        _check_org_in_scope(actor, route.org_unit)
    if not changed:
        return []
    route.full_clean()
    with acting_as(actor):
        route.save()
    if not in_scope(actor, route, "change"):
        raise OutOfScope
    return changed
