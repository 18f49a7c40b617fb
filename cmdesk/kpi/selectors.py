"""Reads of the indicators, always through the user's scope.

`user_filter(user)` turns the user's `restrict()` scope into the engine's Filter; `resolve_scope(user, code)`
turns a scope code (an org unit, route, customer manager's employee number or username, or retailer licence) into a
narrower one after checking it is inside the user's scope (OutOfScope otherwise, which pages and the API answer
with 404), and `kpi()` runs the query with both applied. Results are cached per data version,
so a page never waits twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from cmdesk.analytics.engines import KpiResult
from cmdesk.analytics.periods import Period
from cmdesk.analytics.query import Filter, KpiQuery
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.models import Retailer, Route

from .refresh import data_version, engine, ensure_dims

CACHE_SECONDS = 600

# the org level below each kind, for "--by org" and drill-down
NEXT_LEVEL = {
    OrgKind.CITY: "branch",
    OrgKind.CENTRE: "branch",
    OrgKind.BRANCH: "dept",
    OrgKind.DEPARTMENT: "area",
    OrgKind.AREA: "cm",
}


@dataclass(frozen=True)
class ScopeTarget:
    """What a scope code named: its kind (city/org/route/cm/retailer), label, filter and next drill-down level."""

    kind: str
    code: str
    label: str
    filter: Filter
    next_level: str | None
    org_kind: str | None = None


def user_filter(user: Any) -> Filter:
    """The engine filter that matches ``Retailer.objects.restrict(user)``."""
    if not has_model_perm(user, Retailer, "view"):
        return Filter(nothing=True)
    scope = user_scope(user)
    if scope.kind == "all":
        return Filter()
    if scope.kind == "org" and scope.org_path:
        return Filter(org_paths=(scope.org_path,))
    if scope.kind == "own" and scope.staff_id is not None:
        return Filter(cm_ids=(scope.staff_id,))
    return Filter(nothing=True)


def _both(x: tuple, y: tuple) -> tuple | None:
    """Values allowed by both sides (an empty side allows everything); None when nothing is left."""
    if x and y:
        return tuple(v for v in x if v in y) or None
    return x or y


def _nested(x: tuple[str, ...], y: tuple[str, ...]) -> tuple[str, ...] | None:
    """Org subtrees in both: the deeper of nested paths; None when the subtrees are disjoint."""
    if not (x and y):
        return x or y
    keep = [p for p in x for q in y if p.startswith(q)] + [q for q in y for p in x if q.startswith(p)]
    return tuple(dict.fromkeys(keep)) or None


def merge(a: Filter, b: Filter) -> Filter:
    """Both filters at once (a retailer and a product must pass both)."""
    parts = {
        "org_paths": _nested(a.org_paths, b.org_paths),
        **{
            name: _both(getattr(a, name), getattr(b, name))
            for name in ("cm_ids", "route_codes", "retailer_ids", "product_codes", "brands", "class_ranks")
        },
    }
    if a.nothing or b.nothing or None in parts.values():
        return Filter(nothing=True)
    return Filter(**parts, key_brands_only=a.key_brands_only or b.key_brands_only)


def _city_label() -> str:
    root = OrgUnit.objects.get_root_nodes().first()
    return root.name if root else "city"


def resolve_scope(user: Any, code: str | None) -> ScopeTarget:
    """The target a scope code names, checked against the user's scope. No code: the user's own scope."""
    scope = user_scope(user)
    if not code:
        if scope.kind == "all":
            return ScopeTarget("city", "", _city_label(), Filter(), "branch", OrgKind.CITY)
        if scope.kind == "org":
            unit = OrgUnit.objects.filter(path=scope.org_path).first()
            if unit is not None:
                return _org_target(unit)
        if scope.kind == "own":
            staff = Staff.objects.filter(pk=scope.staff_id).first()
            if staff is not None:
                return ScopeTarget("cm", staff.employee_no, staff.name, Filter(cm_ids=(staff.pk,)), "retailer")
        return ScopeTarget("none", "", "", Filter(nothing=True), None)
    unit = OrgUnit.objects.filter(code=code).first()
    if unit is not None:
        allowed = scope.kind == "all" or (scope.kind == "org" and unit.path.startswith(scope.org_path))
        if not allowed:
            raise OutOfScope(code)
        return _org_target(unit)
    route = Route.objects.restrict(user).filter(code=code).first()
    if route is not None:
        return ScopeTarget("route", route.code, route.name, Filter(route_codes=(route.code,)), "retailer")
    staff = (
        Staff.objects.restrict(user).filter(role=Role.CM).filter(Q(employee_no=code) | Q(user__username=code)).first()
    )
    if staff is not None:
        return ScopeTarget("cm", staff.employee_no, staff.name, Filter(cm_ids=(staff.pk,)), "retailer")
    retailer = Retailer.objects.restrict(user).filter(licence_no=code).first()
    if retailer is not None:
        return ScopeTarget(
            "retailer", retailer.licence_no, retailer.shop_name, Filter(retailer_ids=(retailer.pk,)), "product"
        )
    raise OutOfScope(code)


def _org_target(unit: OrgUnit) -> ScopeTarget:
    flt = Filter() if unit.is_root() else Filter(org_paths=(unit.path,))
    kind = "city" if unit.is_root() else "org"
    return ScopeTarget(kind, unit.code, unit.name, flt, NEXT_LEVEL.get(unit.kind, "cm"), unit.kind)


def kpi(
    user: Any,
    period: Period | str,
    by: tuple[str, ...] = (),
    *,
    scope: str | None = None,
    extra: Filter | None = None,
    indicators: tuple[str, ...] = (),
    engine_name: str | None = None,
    source: str = "auto",
) -> KpiResult:
    """Indicators for ``user``: the user's scope, narrowed by ``scope`` (a code) and ``extra``."""
    if isinstance(period, str):
        period = Period.parse(period)
    target = resolve_scope(user, scope)
    flt = merge(user_filter(user), target.filter)
    if extra is not None:
        flt = merge(flt, extra)
    query = KpiQuery(period=period, by=tuple(by), filter=flt, indicators=tuple(indicators), source=source)
    return run_query(query, engine_name=engine_name)


def run_query(query: KpiQuery, *, engine_name: str | None = None, use_cache: bool = True) -> KpiResult:
    """Run an already scoped query (jobs, the CLI without --user) with the snapshot check and the cache."""
    ensure_dims()
    name = engine_name or settings.CMDESK_KPI_ENGINE
    key = "cmdesk:kpi:" + hashlib.sha256(f"{name}|{data_version()}|{query!r}".encode()).hexdigest()
    if use_cache:
        hit = cache.get(key)
        if hit is not None:
            return hit
    result = engine(name).run(query)
    if use_cache:
        cache.set(key, replace(result, sql=""), CACHE_SECONDS)
    return result


class SystemUser:
    """The operator at the command line without --user: every permission, the whole city."""

    is_authenticated = True
    is_active = True
    is_superuser = True
    pk = None
    username = "system"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return True


SYSTEM = SystemUser()
