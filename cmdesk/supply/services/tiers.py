"""Tiers (档位): schemes, the recompute over a trailing window, applying a run, and the retailer-facing explanation.

The recompute reads the order facts once with DuckDB (one query for all retailers of the city, over the monthly
``rpm`` aggregates of the window and the order files' dates) and does the rest with numpy:

* established retailers (opened before the window and with purchases in it) get components
  ``cartons`` (supplied cartons a month), ``amount`` (yuan a month) and ``ability`` (operating ability, 0..1: a
  weighted mean of floor area ÷ ``area_full``, display fixtures ÷ ``fixtures_full``, a value per business format and
  the share of the window's weeks with an order; see ``TierScheme.ability_rules``);
* method WEIGHTED: each component becomes its percentile rank among the run's established retailers
  (``(lower + ½ equal) ÷ (n − 1)``), the score is the weighted sum (4 decimals), the rank is the competition rank
  (1 = highest) and ``tier = T − ⌊(rank − 1) · T ÷ n⌋`` (equal-sized tiers, D{T} highest, monotonic in the score);
* method BANDS: volume band (cartons a month against ``volume_bands``) × price band (yuan a carton against
  ``price_bands``): ``tier = (volume band − 1) × price bands + price band``; the score is the cartons a month;
* new retailers (opened inside the window, or without purchases in it) get the initial tier from ``initial_rules``;
* ``max_step`` caps the move from the tier before; the reason sentence says so.

A run is a draft until applied; applying writes ``Retailer.tier`` and a ``retail.TierChange`` per change in one
transaction, with audit entries, and is refused for a run that is not a draft or whose retailers' tiers changed since.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import math
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, ProtectedError, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cmdesk.analytics.layout import agg_file, month_label, order_file
from cmdesk.core.audit import acting_as, log_bulk_updates
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.org.models import OrgUnit
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import TIER_MAX, Retailer, TierChange

from ..models import RunStatus, TierMethod, TierPeriod, TierRun, TierScheme, TierScore

CITY_DEFAULT_NAME = "全市默认档位方案"
WEIGHT_KEYS = ("quantity", "amount", "ability")
ABILITY_PARTS = ("area", "fixtures", "format", "regularity")
GONE = (RetailerStatus.CLOSED, RetailerStatus.CANCELLED)
BATCH = 2000


# --- schemes ---------------------------------------------------------------------------------------------------------
def city_default() -> TierScheme:
    """The city's default scheme (created with the model's defaults the first time it is asked for)."""
    scheme = TierScheme.objects.filter(org_unit__isnull=True).first()
    if scheme is None:
        scheme = TierScheme.objects.create(org_unit=None, name=CITY_DEFAULT_NAME)
    return scheme


def scheme_for(org_unit: OrgUnit | None) -> TierScheme:
    """The scheme that governs ``org_unit``: its own, else its nearest ancestor's, else the city default."""
    if org_unit is not None:
        units = [org_unit, *reversed(list(OrgUnit.objects.get_ancestors(org_unit)))]
        by_unit = {s.org_unit_id: s for s in TierScheme.objects.filter(org_unit__in=[u.pk for u in units])}
        for unit in units:
            if unit.pk in by_unit:
                return by_unit[unit.pk]
    return city_default()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ascending(name: str, values: Any, errors: dict[str, list[str]]) -> None:
    if not isinstance(values, list) or not values:
        errors.setdefault(name, []).append(_("Give a non-empty list of lower bounds, e.g. [20, 40, 60]."))
        return
    numbers = [_number(v) for v in values]
    for i, v in enumerate(numbers):
        if v is None or v <= 0:
            errors.setdefault(name, []).append(
                _("Bound %(n)s (%(value)r) must be a number above 0.") % {"n": i + 1, "value": values[i]}
            )
            return
    for i in range(1, len(numbers)):
        if numbers[i] <= numbers[i - 1]:
            errors.setdefault(name, []).append(
                _("The bounds must ascend: bound %(n)s (%(value)s) is not above %(prev)s.")
                % {"n": i + 1, "value": values[i], "prev": values[i - 1]}
            )
            return


def _weights(name: str, weights: Any, keys: tuple[str, ...], errors: dict[str, list[str]]) -> None:
    if not isinstance(weights, dict) or set(weights) != set(keys):
        errors.setdefault(name, []).append(_("Give exactly these weights: %(keys)s.") % {"keys": ", ".join(keys)})
        return
    values = {k: _number(weights[k]) for k in keys}
    bad = [k for k, v in values.items() if v is None or v < 0]
    if bad:
        errors.setdefault(name, []).append(_("Weight %(key)s must be a number of 0 or more.") % {"key": bad[0]})
        return
    total = sum(values.values())
    if abs(total - 1) > 1e-6:
        errors.setdefault(name, []).append(
            _("The weights sum to %(total)s; they must sum to 1.") % {"total": round(total, 6)}
        )


def validate_scheme(scheme: TierScheme) -> None:
    """Check a scheme's configuration; a ValidationError names the field and what is wrong."""
    errors: dict[str, list[str]] = {}
    if not 2 <= (scheme.tier_count or 0) <= TIER_MAX:
        errors["tier_count"] = [_("The number of tiers must be between 2 and %(max)s.") % {"max": TIER_MAX}]
    if scheme.method not in TierMethod.values:
        errors["method"] = [_("Unknown method %(value)r.") % {"value": scheme.method}]
    if scheme.period not in TierPeriod.values:
        errors["period"] = [_("Unknown period %(value)r.") % {"value": scheme.period}]
    if not 1 <= (scheme.window_months or 0) <= 24:
        errors["window_months"] = [_("The window must be 1 to 24 months.")]
    if scheme.shape is None or not Decimal("0.25") <= Decimal(scheme.shape) <= 4:
        errors["shape"] = [_("The tier shape must be between 0.25 and 4 (1: tiers of equal size).")]
    if scheme.hold_band is None or not 0 <= scheme.hold_band <= 5:
        errors["hold_band"] = [_("The hold band must be 0 to 5 tiers.")]
    if scheme.max_step is None or scheme.max_step < 0:
        errors["max_step"] = [_("The largest change must be 0 (no limit) or more.")]
    _weights("weights", scheme.weights, WEIGHT_KEYS, errors)
    _ascending("volume_bands", scheme.volume_bands, errors)
    _ascending("price_bands", scheme.price_bands, errors)
    if (
        scheme.method == TierMethod.BANDS
        and "volume_bands" not in errors
        and "price_bands" not in errors
        and "tier_count" not in errors
    ):
        cells = (len(scheme.volume_bands) + 1) * (len(scheme.price_bands) + 1)
        if cells != scheme.tier_count:
            errors.setdefault("volume_bands", []).append(
                _("%(v)s volume bands × %(p)s price bands make %(cells)s tiers, but the scheme has %(t)s.")
                % {
                    "v": len(scheme.volume_bands) + 1,
                    "p": len(scheme.price_bands) + 1,
                    "cells": cells,
                    "t": scheme.tier_count,
                }
            )
    _validate_initial(scheme, errors)
    _validate_ability(scheme.ability_rules, errors)
    if errors:
        raise ValidationError(errors)


def _validate_initial(scheme: TierScheme, errors: dict[str, list[str]]) -> None:
    rules = scheme.initial_rules
    out: list[str] = []
    if not isinstance(rules, dict):
        errors["initial_rules"] = [_("The initial rules must be an object.")]
        return
    area = rules.get("area")
    if not isinstance(area, list) or not all(
        isinstance(r, list) and len(r) == 2 and _number(r[0]) is not None and _number(r[1]) is not None for r in area
    ):
        out.append(_("area: give [[lowest m², points], …]."))
    elif any(float(area[i][0]) <= float(area[i - 1][0]) for i in range(1, len(area))):
        out.append(_("area: the floor areas must ascend."))
    for key in ("format", "settlement"):
        table = rules.get(key, {})
        if not isinstance(table, dict) or any(_number(v) is None for v in table.values()):
            out.append(_("%(key)s: give {value: points}.") % {"key": key})
    for key in ("fixtures", "fixtures_max"):
        if _number(rules.get(key, 0)) is None or float(rules.get(key, 0)) < 0:
            out.append(_("%(key)s must be a number of 0 or more.") % {"key": key})
    max_points = _number(rules.get("max_points"))
    if max_points is None or max_points <= 0:
        out.append(_("max_points must be above 0."))
    tier_max = rules.get("tier_max")
    if not isinstance(tier_max, int) or isinstance(tier_max, bool) or not 1 <= tier_max <= TIER_MAX:
        out.append(_("tier_max (the highest starting tier) must be a whole tier from 1 to %(t)s.") % {"t": TIER_MAX})
    if out:
        errors["initial_rules"] = out


def _validate_ability(rules: Any, errors: dict[str, list[str]]) -> None:
    if not isinstance(rules, dict):
        errors["ability_rules"] = [_("The operating ability rules must be an object.")]
        return
    sub: dict[str, list[str]] = {}
    _weights("ability_rules", rules.get("parts"), ABILITY_PARTS, sub)
    out = list(sub.get("ability_rules", []))
    for key in ("area_full", "fixtures_full"):
        value = _number(rules.get(key))
        if value is None or value <= 0:
            out.append(_("%(key)s must be above 0.") % {"key": key})
    table = rules.get("format")
    if not isinstance(table, dict) or any((_number(v) is None or not 0 <= float(v) <= 1) for v in table.values()):
        out.append(_("format: give {business format: value from 0 to 1}."))
    if out:
        errors["ability_rules"] = out


def save_scheme(scheme: TierScheme, user: Any) -> TierScheme:
    """Validate and save a scheme (the centre's permission), audited."""
    if user is not None and not has_model_perm(user, TierScheme, "change" if scheme.pk else "add"):
        raise PermissionDenied
    validate_scheme(scheme)
    with transaction.atomic(), acting_as(user):
        scheme.save()
    return scheme


def scheme_text(scheme: TierScheme | dict, unit_name: str = "") -> str:
    """The scheme in plain words (for retailers and desk users)."""
    s = scheme if isinstance(scheme, dict) else snapshot(scheme)
    period = _("monthly") if s["period"] == TierPeriod.MONTH else _("quarterly")
    step = _(" A tier moves at most %(n)s per recompute.") % {"n": s["max_step"]} if s["max_step"] else ""
    if s["method"] == TierMethod.BANDS:
        text = _(
            "Tiers are recomputed %(period)s from the last %(months)s months of purchases: the cartons bought a month "
            "fall into one of %(v)s volume bands and the average price a carton into one of %(p)s price bands; "
            "together they give D1 to D%(t)s (D%(t)s highest)."
        ) % {
            "period": period,
            "months": s["window_months"],
            "v": len(s["volume_bands"]) + 1,
            "p": len(s["price_bands"]) + 1,
            "t": s["tier_count"],
        }
    else:
        w = s["weights"]
        text = _(
            "Tiers are recomputed %(period)s from the last %(months)s months of purchases: %(q)s%% cartons a month, "
            "%(a)s%% amount a month and %(b)s%% operating ability (floor area, display fixtures, business format and "
            "how regularly the shop orders), each ranked against the other retailers%(unit)s; the scores are cut "
            "into %(t)s tiers%(shape)s, D%(t)s highest."
        ) % {
            "shape": _(" of equal size")
            if Decimal(str(s.get("shape", 1))) == 1
            else _(" with fewer retailers in the higher ones (shape %(shape)s)") % {"shape": s["shape"]},
            "period": period,
            "months": s["window_months"],
            "q": _pct(w["quantity"]),
            "a": _pct(w["amount"]),
            "b": _pct(w["ability"]),
            "unit": (_(" of %(unit)s") % {"unit": unit_name}) if unit_name else "",
            "t": s["tier_count"],
        }
    return text + step


def _pct(weight: float) -> str:
    value = round(float(weight) * 100, 1)
    return f"{value:g}"


def snapshot(scheme: TierScheme) -> dict[str, Any]:
    """The scheme's settings as the run used them."""
    return {
        "id": scheme.pk,
        "name": scheme.name,
        "tier_count": scheme.tier_count,
        "method": scheme.method,
        "period": scheme.period,
        "window_months": scheme.window_months,
        "weights": scheme.weights,
        "volume_bands": scheme.volume_bands,
        "price_bands": scheme.price_bands,
        "initial_rules": scheme.initial_rules,
        "ability_rules": scheme.ability_rules,
        "max_step": scheme.max_step,
        "hold_band": scheme.hold_band,
        "shape": str(scheme.shape),
    }


# --- window and data -------------------------------------------------------------------------------------------------
def _month_start(day: dt.date, back: int = 0) -> dt.date:
    idx = day.year * 12 + day.month - 1 - back
    return dt.date(idx // 12, idx % 12 + 1, 1)


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def window(as_of: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """The last ``months`` complete months up to ``as_of`` (its own month counts when ``as_of`` is its last day)."""
    last = as_of if as_of == _month_end(as_of) else _month_start(as_of) - dt.timedelta(days=1)
    return _month_start(last, months - 1), last


def default_effective(window_end: dt.date, period: str) -> dt.date:
    """The first day of the month after the window (quarterly schemes: of the quarter after it)."""
    nxt = window_end + dt.timedelta(days=1)
    if period == TierPeriod.QUARTER:
        q = (nxt.month - 1) // 3
        start = dt.date(nxt.year, q * 3 + 1, 1)
        return start if start == nxt else _month_start(start, -3)
    return nxt


def _months(start: dt.date, end: dt.date) -> list[str]:
    out, day = [], start
    while day <= end:
        out.append(month_label(day))
        day = _month_start(day, -1)
    return out


def weeks_in(start: dt.date, end: dt.date) -> int:
    """Calendar weeks (Monday to Sunday) that overlap [start, end]."""
    first = start - dt.timedelta(days=start.weekday())
    last = end - dt.timedelta(days=end.weekday())
    return (last - first).days // 7 + 1


@dataclass
class Purchases:
    """Per retailer over the window: supplied cartons, amount (yuan) and weeks with an order (parallel arrays)."""

    retailer_id: np.ndarray
    cartons: np.ndarray
    amount: np.ndarray
    weeks: np.ndarray


def read_purchases(data_dir: Path, start: dt.date, end: dt.date) -> Purchases:
    """One DuckDB query for all retailers: the rpm aggregates of the window's months and the weeks ordered."""
    import duckdb

    months = _months(start, end)
    missing = [m for m in months if not agg_file(data_dir, "rpm", m).is_file()]
    if missing:
        raise ValidationError(
            _("No order aggregates for %(months)s in %(dir)s: import the orders or run cmdesk kpi-refresh.")
            % {"months": ", ".join(missing), "dir": data_dir}
        )
    rpm = [str(agg_file(data_dir, "rpm", m)) for m in months]
    orders = [str(order_file(data_dir, m)) for m in months if order_file(data_dir, m).is_file()]
    weeks_sql = (
        "SELECT retailer_id, count(DISTINCT date_trunc('week', order_date)) AS weeks FROM read_parquet($orders) "
        "WHERE ordered > 0 AND order_date BETWEEN $start AND $end GROUP BY retailer_id"
        if orders
        else "SELECT NULL::BIGINT AS retailer_id, 0::BIGINT AS weeks WHERE false"
    )
    sql = f"""
        WITH q AS (
            SELECT retailer_id, sum(supplied) AS cartons, sum(amount_fen) AS fen
            FROM read_parquet($rpm) GROUP BY retailer_id
        ), w AS ({weeks_sql})
        SELECT coalesce(q.retailer_id, w.retailer_id) AS retailer_id, coalesce(q.cartons, 0) AS cartons,
               coalesce(q.fen, 0) AS fen, coalesce(w.weeks, 0) AS weeks
        FROM q FULL OUTER JOIN w ON q.retailer_id = w.retailer_id
        ORDER BY 1
    """
    params: dict[str, Any] = {"rpm": rpm}
    if orders:
        params.update(orders=orders, start=start, end=end)
    con = duckdb.connect(":memory:")
    try:
        res = con.execute(sql, params).fetchnumpy()
    finally:
        con.close()
    return Purchases(
        retailer_id=np.asarray(res["retailer_id"], dtype=np.int64),
        cartons=np.asarray(res["cartons"], dtype=np.float64),
        amount=np.asarray(res["fen"], dtype=np.float64) / 100,
        weeks=np.asarray(res["weeks"], dtype=np.int64),
    )


# --- computation (pure) ----------------------------------------------------------------------------------------------
def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Each value's share of the others below it (ties count half): (lower + ½ equal) ÷ (n − 1); 1 when alone."""
    n = len(values)
    if n <= 1:
        return np.ones(n)
    s = np.sort(values)
    lower = np.searchsorted(s, values, "left")
    equal = np.searchsorted(s, values, "right") - lower - 1
    return (lower + 0.5 * equal) / (n - 1)


def percentile_against(others_sorted: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The percentile rank of values ``x`` against the sorted values of the others (the same formula)."""
    n = len(others_sorted)
    if n == 0:
        return np.ones(len(x))
    lower = np.searchsorted(others_sorted, x, "left")
    equal = np.searchsorted(others_sorted, x, "right") - lower
    return (lower + 0.5 * equal) / n


def round4(values: np.ndarray) -> np.ndarray:
    return np.round(values + 0.0, 4)


def tiers_from_scores(scores: np.ndarray, tier_count: int, shape: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Competition rank (1 = highest; ties share it) and the tier of each score (D{tier_count} highest).

    u = (n − rank + 1) ÷ n is the share of retailers at or below a score; its tier is ⌈T × u^shape⌉: equal-sized tiers
    for shape 1 (computed in integers, exactly), a pyramid with fewer retailers in the higher tiers above 1. A higher
    score never gets a lower tier."""
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    desc = np.sort(-scores)
    rank = np.searchsorted(desc, -scores, "left") + 1
    if float(shape) == 1.0:
        tier = tier_count - ((rank - 1) * tier_count) // n
    else:
        u = (n - rank + 1) / n
        tier = np.clip(np.ceil(tier_count * u ** float(shape) - 1e-9), 1, tier_count)
    return rank.astype(np.int64), tier.astype(np.int64)


def ability_parts(
    rules: dict, area: np.ndarray, fixtures: np.ndarray, formats: list[str], weeks: np.ndarray, weeks_total: int
) -> dict[str, np.ndarray]:
    """The four parts of operating ability (each 0..1) and their weighted mean under ``ability``."""
    parts = {
        "area": np.clip(np.nan_to_num(area) / float(rules["area_full"]), 0, 1),
        "fixtures": np.clip(np.nan_to_num(fixtures) / float(rules["fixtures_full"]), 0, 1),
        "format": np.array([float(rules["format"].get(f, 0)) for f in formats]),
        "regularity": np.clip(weeks / max(weeks_total, 1), 0, 1),
    }
    w = rules["parts"]
    parts["ability"] = sum(float(w[k]) * parts[k] for k in ABILITY_PARTS)
    return parts


def initial_points(
    rules: dict, area: float | None, fmt: str, fixtures: int | None, settlement: str
) -> dict[str, float]:
    """Points of a new retailer's starting score, per criterion."""
    area_points = 0.0
    for low, points in rules.get("area", []):
        if area is not None and float(area) >= float(low):
            area_points = float(points)
    return {
        "area": area_points,
        "format": float(rules.get("format", {}).get(fmt, 0)),
        "fixtures": float(rules.get("fixtures", 0)) * min(fixtures or 0, int(rules.get("fixtures_max", 0))),
        "settlement": float(rules.get("settlement", {}).get(settlement, 0)),
    }


def initial_tier(rules: dict, points: float, tier_count: int) -> int:
    """Points mapped linearly: 0 → D1, ``max_points`` → D{tier_max} (at most the scheme's top tier)."""
    top = min(int(rules["tier_max"]), tier_count)
    share = min(max(points, 0), float(rules["max_points"])) / float(rules["max_points"])
    return 1 + int(math.floor(share * (top - 1) + 1e-9))


def capped(before: int | None, computed: int, max_step: int, tier_count: int) -> int:
    if before is None or not max_step:
        return computed
    step = max(-max_step, min(max_step, computed - before))
    return max(1, min(tier_count, before + step))


# --- recompute -------------------------------------------------------------------------------------------------------
def _fmt0(value: float) -> str:
    return f"{value:,.0f}"


def _change_text(before: int | None, computed: int, after: int, max_step: int, held: int = 0) -> str:
    if before is None:
        return _("first tier D%(t)s") % {"t": after}
    if held:
        return _("stays at D%(t)s (D%(c)s by score, within the hold band of %(n)s)") % {
            "t": after,
            "c": computed,
            "n": held,
        }
    if after == before:
        if computed != before:
            return _("stays at D%(t)s (D%(c)s by score, at most %(n)s tiers a recompute)") % {
                "t": after,
                "c": computed,
                "n": max_step,
            }
        return _("stays at D%(t)s") % {"t": after}
    k = abs(after - before)
    if after > before:
        text = (
            _("up %(k)s tiers to D%(t)s") % {"k": k, "t": after} if k > 1 else _("up 1 tier to D%(t)s") % {"t": after}
        )
    else:
        text = (
            _("down %(k)s tiers to D%(t)s") % {"k": k, "t": after}
            if k > 1
            else _("down 1 tier to D%(t)s") % {"t": after}
        )
    if after != computed:
        text += " " + _("(D%(c)s by score, capped at %(n)s)") % {"c": computed, "n": max_step}
    return text


def recompute(
    org_unit: OrgUnit,
    as_of: dt.date,
    user: Any = None,
    *,
    effective: dt.date | None = None,
    data_dir: Path | None = None,
) -> TierRun:
    """Score every open retailer under ``org_unit`` over the scheme's trailing window and store a draft run."""
    if user is not None:
        if not has_model_perm(user, TierRun, "add"):
            raise PermissionDenied
        if not OrgUnit.objects.get_queryset().in_scope(user_scope(user)).filter(pk=org_unit.pk).exists():
            raise OutOfScope
    scheme = scheme_for(org_unit)
    validate_scheme(scheme)
    snap = snapshot(scheme)
    start, end = window(as_of, scheme.window_months)
    effective = effective or default_effective(end, scheme.period)
    if effective <= end:
        raise ValidationError(
            {"effective": [_("The effective date must be after the window's end (%(end)s).") % {"end": end}]}
        )
    rows = list(
        Retailer.objects.filter(route__org_unit__path__startswith=org_unit.path)
        .exclude(status__in=GONE)
        .order_by("id")
        .values_list(
            "id", "tier", "opened_on", "floor_area", "display_fixtures", "business_format", "settlement_method"
        )
    )
    if not rows:
        raise ValidationError(_("%(unit)s has no open retailers to tier.") % {"unit": org_unit.name})
    purchases = read_purchases(Path(data_dir or settings.CMDESK_DATA_DIR), start, end)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    cartons, amount, weeks = np.zeros(len(ids)), np.zeros(len(ids)), np.zeros(len(ids), dtype=np.int64)
    if len(purchases.retailer_id):
        pos = np.clip(np.searchsorted(purchases.retailer_id, ids), 0, len(purchases.retailer_id) - 1)
        found = purchases.retailer_id[pos] == ids
        months = scheme.window_months
        cartons = np.where(found, purchases.cartons[pos], 0) / months
        amount = np.where(found, purchases.amount[pos], 0) / months
        weeks = np.where(found, purchases.weeks[pos], 0)
    weeks_total = weeks_in(start, end)
    opened_inside = np.array([r[2] is not None and r[2] > start for r in rows])
    new = opened_inside | (cartons <= 0)
    est = ~new
    T = scheme.tier_count
    n_est = int(est.sum())

    score = np.zeros(len(rows))
    rank = np.zeros(len(rows), dtype=np.int64)
    computed = np.zeros(len(rows), dtype=np.int64)
    comps: list[dict[str, Any]] = [{} for _r in rows]
    nxt_score: list[float | None] = [None] * len(rows)
    idx = np.flatnonzero(est)
    price = np.divide(amount, cartons, out=np.zeros_like(amount), where=cartons > 0)
    if n_est:
        area = np.array([float(r[3]) if r[3] is not None else np.nan for r in rows])[idx]
        fixtures = np.array([r[4] if r[4] is not None else np.nan for r in rows], dtype=float)[idx]
        parts = ability_parts(scheme.ability_rules, area, fixtures, [rows[i][5] for i in idx], weeks[idx], weeks_total)
        if scheme.method == TierMethod.BANDS:
            vb = np.array([bisect_right(scheme.volume_bands, c) + 1 for c in cartons[idx]])
            pb = np.array([bisect_right(scheme.price_bands, p) + 1 for p in price[idx]])
            t = (vb - 1) * (len(scheme.price_bands) + 1) + pb
            s = round4(cartons[idx])
            order = np.lexsort((-s, -t))
            rk = np.empty(n_est, dtype=np.int64)
            key = list(zip(t[order], s[order], strict=True))
            for j, o in enumerate(order):
                rk[o] = j + 1 if j == 0 or key[j] != key[j - 1] else rk[order[j - 1]]
            score[idx], rank[idx], computed[idx] = s, rk, t
            for j, i in enumerate(idx):
                v = int(vb[j])
                nxt_score[i] = float(scheme.volume_bands[v - 1]) if v <= len(scheme.volume_bands) else None
                comps[i] = {"volume_band": v, "price_band": int(pb[j])}
        else:
            w = scheme.weights
            norm = {
                "quantity": percentile_rank(cartons[idx]),
                "amount": percentile_rank(amount[idx]),
                "ability": percentile_rank(parts["ability"]),
            }
            s = round4(sum(float(w[k]) * norm[k] for k in WEIGHT_KEYS))
            rk, t = tiers_from_scores(s, T, float(scheme.shape))
            score[idx], rank[idx], computed[idx] = s, rk, t
            # the lowest score of each tier: the next tier up starts there
            floor = {int(tier): float(s[t == tier].min()) for tier in np.unique(t)}
            tiers_up = sorted(floor)
            for j, i in enumerate(idx):
                higher = [x for x in tiers_up if x > t[j]]
                if higher:
                    nxt_score[i] = floor[higher[0]]
                comps[i] = {
                    "norm": {k: round(float(norm[k][j]), 4) for k in WEIGHT_KEYS},
                    "next_tier": higher[0] if higher else None,
                }
        for j, i in enumerate(idx):
            comps[i].update(
                cartons=round(float(cartons[i]), 2),
                amount=round(float(amount[i]), 2),
                price=round(float(price[i]), 2),
                ability=round(float(parts["ability"][j]), 4),
                parts={k: round(float(parts[k][j]), 4) for k in ABILITY_PARTS},
                weeks=int(weeks[i]),
                weeks_total=weeks_total,
            )

    stats = {"retailers": len(rows), "scored": n_est, "new": 0, "up": 0, "down": 0, "unchanged": 0, "first": 0}
    stats["capped"] = stats["held"] = 0
    scores: list[TierScore] = []
    for i, r in enumerate(rows):
        before = r[1] if r[1] is not None and 1 <= r[1] <= TIER_MAX else None
        if new[i]:
            pts = initial_points(scheme.initial_rules, r[3], r[5], r[4], r[6])
            total = sum(pts.values())
            computed[i] = initial_tier(scheme.initial_rules, total, T)
            score[i] = round(
                min(total, float(scheme.initial_rules["max_points"])) / float(scheme.initial_rules["max_points"]), 4
            )
            comps[i] = {
                "initial": pts,
                "points": total,
                "max_points": scheme.initial_rules["max_points"],
                "cartons": round(float(cartons[i]), 2),
                "amount": round(float(amount[i]), 2),
                "opened_on": r[2].isoformat() if r[2] else None,
            }
            stats["new"] += 1
        held = before is not None and 0 < abs(int(computed[i]) - before) <= scheme.hold_band
        after = before if held else capped(before, int(computed[i]), scheme.max_step, T)
        if held:
            stats["held"] += 1
        elif after != computed[i]:
            stats["capped"] += 1
        change = _change_text(before, int(computed[i]), after, scheme.max_step, scheme.hold_band if held else 0)
        if new[i]:
            why = (
                _("new retailer (opened %(day)s)") % {"day": r[2].isoformat()}
                if opened_inside[i]
                else _("no purchases in the window")
            )
            reason = _("%(why)s: initial score %(points)s of %(max)s points; %(change)s") % {
                "why": why,
                "points": f"{comps[i]['points']:g}",
                "max": f"{float(scheme.initial_rules['max_points']):g}",
                "change": change,
            }
        elif scheme.method == TierMethod.BANDS:
            reason = _(
                "monthly average %(cartons)s cartons at %(price)s yuan a carton: volume band %(v)s, price band %(p)s; "
                "%(change)s"
            ) % {
                "cartons": _fmt0(cartons[i]),
                "price": _fmt0(price[i]),
                "v": comps[i]["volume_band"],
                "p": comps[i]["price_band"],
                "change": change,
            }
        else:
            reason = _(
                "monthly average %(cartons)s cartons, %(amount)s yuan; score %(score).4f ranks %(rank)s of %(n)s; "
                "%(change)s"
            ) % {
                "cartons": _fmt0(cartons[i]),
                "amount": _fmt0(amount[i]),
                "score": score[i],
                "rank": f"{int(rank[i]):,}",
                "n": f"{n_est:,}",
                "change": change,
            }
        if before is None:
            stats["first"] += 1
        elif after > before:
            stats["up"] += 1
        elif after < before:
            stats["down"] += 1
        else:
            stats["unchanged"] += 1
        scores.append(
            TierScore(
                retailer_id=r[0],
                score=Decimal(f"{score[i]:.4f}"),
                components=comps[i],
                rank=int(rank[i]) if rank[i] else None,
                tier_before=before,
                tier_computed=int(computed[i]),
                tier_after=after,
                next_tier_score=Decimal(f"{nxt_score[i]:.4f}") if nxt_score[i] is not None else None,
                reason=reason[:300],
            )
        )
    with transaction.atomic(), acting_as(user):
        run = TierRun.objects.create(
            scheme=scheme,
            org_unit=org_unit,
            window_start=start,
            window_end=end,
            effective=effective,
            settings_snapshot=snap,
            stats=stats,
            created_by=user if getattr(user, "pk", None) else None,
        )
        for s in scores:
            s.run = run
        TierScore.objects.bulk_create(scores, batch_size=BATCH)
    return run


# --- apply -----------------------------------------------------------------------------------------------------------
def stale_scores(run: TierRun):
    """Scores whose retailer's tier is no longer the tier the run started from."""
    return TierScore.objects.filter(run=run).filter(
        Q(tier_before__isnull=True, retailer__tier__isnull=False)
        | Q(tier_before__isnull=False, retailer__tier__isnull=True)
        | Q(tier_before__lt=F("retailer__tier"))
        | Q(tier_before__gt=F("retailer__tier"))
    )


def apply_run(run: TierRun, user: Any = None) -> TierRun:
    """Write the run's tiers to the retailers with a TierChange each (source recompute, the reason), atomically.

    Refused for a run that is not a draft, and for a stale one (a retailer's tier changed since it was computed)."""
    if user is not None:
        if not user.has_perm("supply.apply_tierrun"):
            raise PermissionDenied
        if not TierRun.objects.restrict(user, "view").filter(pk=run.pk).exists():
            raise OutOfScope
    with transaction.atomic(), acting_as(user):
        run = TierRun.objects.select_for_update().select_related("org_unit").get(pk=run.pk)
        if run.status != RunStatus.DRAFT:
            raise ValidationError(
                _("Recompute %(id)s is %(status)s: only a draft can be applied.")
                % {"id": run.pk, "status": run.get_status_display()}
            )
        stale = stale_scores(run).select_related("retailer")
        n_stale = stale.count()
        if n_stale:
            first = stale.first()
            raise ValidationError(
                _(
                    "Recompute %(id)s is stale: %(n)s retailers' tiers changed since it was computed (e.g. "
                    "%(licence)s was D%(before)s, is now D%(now)s). Recompute again."
                )
                % {
                    "id": run.pk,
                    "n": n_stale,
                    "licence": first.retailer.licence_no,
                    "before": first.tier_before or "-",
                    "now": first.retailer.tier or "-",
                }
            )
        changes = list(
            TierScore.objects.filter(run=run)
            .exclude(tier_before=F("tier_after"))
            .values_list("retailer_id", "tier_before", "tier_after", "reason", "retailer__licence_no")
        )
        now = timezone.now()
        by_tier: dict[int, list[int]] = {}
        for rid, _b, after, _r, _l in changes:
            by_tier.setdefault(after, []).append(rid)
        for tier, rids in by_tier.items():
            for k in range(0, len(rids), BATCH):
                Retailer.objects.filter(pk__in=rids[k : k + BATCH]).update(tier=tier, updated_at=now)
        actor = user if getattr(user, "pk", None) else None
        TierChange.objects.bulk_create(
            [
                TierChange(
                    retailer_id=rid,
                    tier_from=before,
                    tier_to=after,
                    effective=run.effective,
                    source=TierChange.Source.RECOMPUTE,
                    reason=reason,
                    recorded_by=actor,
                )
                for rid, before, after, reason, _l in changes
            ],
            batch_size=BATCH,
        )
        log_bulk_updates(
            Retailer,
            (
                (rid, licence, {"tier": [str(before) if before is not None else "None", str(after)]})
                for rid, before, after, _r, licence in changes
            ),
            additional_data={"tier_run": run.pk},
        )
        run.status = RunStatus.APPLIED
        run.applied_at = now
        run.stats = {**run.stats, "changed": len(changes)}
        run.save(update_fields=["status", "applied_at", "stats"])
    return run


def discard_run(run: TierRun, user: Any = None) -> TierRun:
    """Set a draft aside (it can no longer be applied)."""
    if user is not None:
        if not has_model_perm(user, TierRun, "add"):
            raise PermissionDenied
        if not TierRun.objects.restrict(user, "view").filter(pk=run.pk).exists():
            raise OutOfScope
        scope = user_scope(user)
        whole = scope.kind == "all" or (scope.kind == "org" and run.org_unit.path.startswith(scope.org_path))
        if not whole:  # a head sees a city-wide run (its retailers' rows) but may not set it aside for everyone
            raise PermissionDenied(_("The recompute covers %(unit)s, beyond your unit.") % {"unit": run.org_unit})
    with transaction.atomic(), acting_as(user):
        run = TierRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RunStatus.DRAFT:
            raise ValidationError(_("Only a draft can be discarded."))
        run.status = RunStatus.DISCARDED
        run.save(update_fields=["status"])
    return run


def change_of(score: TierScore) -> str:
    """up | down | unchanged | new (the filter of the run page)."""
    if score.components.get("initial") is not None:
        return "new"
    if score.tier_before is None or score.tier_after == score.tier_before:
        return "unchanged" if score.tier_before is not None else "new"
    return "up" if score.tier_after > score.tier_before else "down"


CHANGE_FILTERS = {
    "up": Q(tier_after__gt=F("tier_before")),
    "down": Q(tier_after__lt=F("tier_before")),
    "unchanged": Q(tier_after=F("tier_before")),
    "new": Q(components__has_key="initial") | Q(tier_before__isnull=True),
}


# --- the retailer's explanation ---------------------------------------------------------------------------------------
def latest_score(retailer: Retailer) -> TierScore | None:
    """The retailer's score in the latest applied run, else in the latest draft."""
    base = TierScore.objects.filter(retailer=retailer).select_related("run", "run__org_unit")
    return (
        base.filter(run__status=RunStatus.APPLIED).order_by("-run__effective", "-run_id").first()
        or base.filter(run__status=RunStatus.DRAFT).order_by("-run__created_at", "-run_id").first()
    )


def cartons_for_score(
    cartons: float,
    amount: float,
    norm_ability: float,
    weights: dict,
    others_q: np.ndarray,
    others_a: np.ndarray,
    target: float,
) -> int | None:
    """The fewest whole extra cartons a month (at the retailer's own price per carton) whose score reaches ``target``,
    the other retailers' figures unchanged; None when cartons alone cannot reach it."""
    price = (
        amount / cartons
        if cartons > 0
        else (float(np.median(others_a / np.maximum(others_q, 1e-9))) if len(others_q) else 0)
    )
    qs, as_ = np.sort(others_q), np.sort(others_a)
    top = int(math.ceil(max(float(qs[-1]) if len(qs) else 0, cartons) - cartons)) + 2
    delta = np.arange(1, max(top, 1) + 1, dtype=float)
    score = round4(
        float(weights["quantity"]) * percentile_against(qs, cartons + delta)
        + float(weights["amount"]) * percentile_against(as_, amount + delta * price)
        + float(weights["ability"]) * norm_ability
    )
    hit = np.flatnonzero(score >= target - 1e-9)
    return int(delta[hit[0]]) if len(hit) else None


def explain(retailer: Retailer) -> dict[str, Any]:
    """The retailer-facing explanation: its tier, the scheme in plain words, its components against the next tier,
    and what would move it up (computed from the run's figures)."""
    score = latest_score(retailer)
    history = list(TierChange.objects.filter(retailer=retailer).order_by("-effective", "-id")[:24])
    out: dict[str, Any] = {
        "retailer": retailer,
        "tier": retailer.tier,
        "tier_label": retailer.tier_label,
        "history": history,
        "score": score,
        "run": score.run if score else None,
    }
    if score is None:
        scheme = scheme_for(retailer.route.org_unit)
        out.update(
            scheme_text=scheme_text(scheme),
            headline=_("Your tier is %(tier)s. It has not been recomputed from your purchases yet.")
            % {"tier": retailer.tier_label},
            components=[],
            move_up=_("Your tier will come from your purchases at the next recompute."),
            needed=None,
        )
        return out
    snap = score.run.settings_snapshot
    comps = score.components
    out["scheme_text"] = scheme_text(snap, score.run.org_unit.name)
    window_text = f"{score.run.window_start:%Y-%m} – {score.run.window_end:%Y-%m}"
    if comps.get("initial") is not None:
        out.update(_explain_new(score, snap, window_text))
    elif snap["method"] == TierMethod.BANDS:
        out.update(_explain_bands(score, snap, window_text))
    else:
        out.update(_explain_weighted(score, snap, window_text))
    return out


def _explain_new(score: TierScore, snap: dict, window_text: str) -> dict[str, Any]:
    c = score.components
    labels = {
        "area": _("floor area"),
        "format": _("business format"),
        "fixtures": _("display fixtures"),
        "settlement": _("settlement method"),
    }
    rows = [{"key": k, "label": labels[k], "value": v, "unit": _("points")} for k, v in c["initial"].items()]
    return {
        "headline": _(
            "Your tier is D%(tier)s: a starting tier for a new shop, %(points)s of %(max)s points from floor area, "
            "business format, display fixtures and settlement."
        )
        % {"tier": score.tier_after, "points": f"{c['points']:g}", "max": f"{float(c['max_points']):g}"},
        "components": rows,
        "move_up": _(
            "Once you have a full window of orders (%(months)s months), your tier comes from your purchases: "
            "cartons and amount a month and how regularly you order."
        )
        % {"months": snap["window_months"]},
        "needed": None,
        "window": window_text,
    }


def _explain_bands(score: TierScore, snap: dict, window_text: str) -> dict[str, Any]:
    c = score.components
    vb, pb = c["volume_band"], c["price_band"]
    vbounds, pbounds = snap["volume_bands"], snap["price_bands"]
    rows = [
        {"key": "cartons", "label": _("cartons a month"), "value": c["cartons"], "unit": _("cartons"),
         "band": vb, "next": vbounds[vb - 1] if vb <= len(vbounds) else None},
        {"key": "price", "label": _("price a carton"), "value": c["price"], "unit": _("yuan"),
         "band": pb, "next": pbounds[pb - 1] if pb <= len(pbounds) else None},
    ]  # fmt: skip
    levers = []
    if vb <= len(vbounds):
        more = int(math.ceil(float(vbounds[vb - 1]) - float(c["cartons"])))
        levers.append(
            _("about %(n)s more cartons a month reach volume band %(v)s (from %(bound)s cartons) and D%(t)s")
            % {
                "n": max(more, 1),
                "v": vb + 1,
                "bound": f"{float(vbounds[vb - 1]):g}",
                "t": score.tier_computed + len(pbounds) + 1,
            }
        )
    if pb <= len(pbounds):
        levers.append(
            _("an average price of %(bound)s yuan a carton (now %(price)s) reaches price band %(p)s and D%(t)s")
            % {
                "bound": f"{float(pbounds[pb - 1]):g}",
                "price": f"{float(c['price']):.2f}",
                "p": pb + 1,
                "t": score.tier_computed + 1,
            }
        )
    move = (
        (_("To move up: %(levers)s.") % {"levers": "; ".join(str(x) for x in levers)})
        if levers
        else _("You are in the top tier.")
    )
    return {
        "headline": _(
            "Your tier is D%(tier)s. Over %(window)s you bought on average %(cartons)s cartons a month at %(price)s "
            "yuan a carton: volume band %(v)s, price band %(p)s."
        )
        % {
            "tier": score.tier_after,
            "window": window_text,
            "cartons": _fmt0(c["cartons"]),
            "price": f"{float(c['price']):.2f}",
            "v": vb,
            "p": pb,
        },  # fmt: skip
        "components": rows,
        "move_up": _with_hold(score, snap, _cap_note(score, snap) or move),
        "needed": None,
        "window": window_text,
    }


def _held_up(score: TierScore, snap: dict) -> bool:
    """Did the hold band keep the retailer below the tier its score earns?"""
    before, computed = score.tier_before, score.tier_computed
    return before is not None and score.tier_after == before and 0 < computed - before <= (snap.get("hold_band") or 0)


def _hold_note(score: TierScore, snap: dict) -> str:
    if not _held_up(score, snap):
        return ""
    n = snap["hold_band"]
    return ngettext(
        "Your score earns D%(c)s, within the hold band of %(n)s tier above your D%(t)s: a tier changes only when the "
        "score moves further, so you stay at D%(t)s until your score earns D%(up)s.",
        "Your score earns D%(c)s, within the hold band of %(n)s tiers above your D%(t)s: a tier changes only when "
        "the score moves further, so you stay at D%(t)s until your score earns D%(up)s.",
        n,
    ) % {"c": score.tier_computed, "n": n, "t": score.tier_before, "up": score.tier_before + n + 1}


def _with_hold(score: TierScore, snap: dict, move: str) -> str:
    hold = _hold_note(score, snap)
    return f"{hold} {move}" if hold else move


def _cap_note(score: TierScore, snap: dict) -> str:
    if score.tier_after < score.tier_computed and not _held_up(score, snap):
        return _(
            "Your score already earns D%(c)s; a tier moves at most %(n)s per recompute, so you move up further at "
            "the next recompute."
        ) % {"c": score.tier_computed, "n": snap["max_step"]}
    return ""


def _explain_weighted(score: TierScore, snap: dict, window_text: str) -> dict[str, Any]:
    c = score.components
    w = snap["weights"]
    norm = c["norm"]
    others = list(
        TierScore.objects.filter(run_id=score.run_id, rank__isnull=False)
        .exclude(pk=score.pk)
        .values_list("components__cartons", "components__amount", "tier_computed")
    )
    oq = np.array([float(o[0]) for o in others])
    oa = np.array([float(o[1]) for o in others])
    ot = np.array([o[2] for o in others], dtype=np.int64)
    nxt = c.get("next_tier")
    in_next = ot == nxt if nxt else np.zeros(len(ot), dtype=bool)
    rows = [
        {"key": "quantity", "label": _("cartons a month"), "value": c["cartons"], "unit": _("cartons"),
         "normalised": norm["quantity"], "weight": w["quantity"],
         "next_median": float(np.median(oq[in_next])) if in_next.any() else None},
        {"key": "amount", "label": _("amount a month"), "value": c["amount"], "unit": _("yuan"),
         "normalised": norm["amount"], "weight": w["amount"],
         "next_median": float(np.median(oa[in_next])) if in_next.any() else None},
        {"key": "ability", "label": _("operating ability"), "value": c["ability"], "unit": "",
         "normalised": norm["ability"], "weight": w["ability"], "next_median": None, "parts": c["parts"]},
    ]  # fmt: skip
    for row in rows:
        row["contribution"] = round(float(row["weight"]) * float(row["normalised"]), 4)
    n = len(others) + 1
    headline = _(
        "Your tier is D%(tier)s. Over %(window)s you bought on average %(cartons)s cartons (%(amount)s yuan) a "
        "month; your score %(score)s ranks %(rank)s of %(n)s."
    ) % {
        "tier": score.tier_after,
        "window": window_text,
        "cartons": _fmt0(c["cartons"]),
        "amount": _fmt0(c["amount"]),
        "score": f"{score.score:.4f}",
        "rank": f"{score.rank:,}",
        "n": f"{n:,}",
    }
    needed = None
    move = _cap_note(score, snap)
    if not move:
        if score.next_tier_score is None or not nxt:
            move = _("You are in the top tier.")
        else:
            target = float(score.next_tier_score)
            more = cartons_for_score(float(c["cartons"]), float(c["amount"]), float(norm["ability"]), w, oq, oa, target)
            price = float(c["price"])
            if more is None:
                move = _(
                    "You need a score of %(target)s for D%(next)s: more cartons alone will not reach it; better "
                    "display (fixtures, floor area) and ordering every week raise your operating ability."
                ) % {"target": f"{target:.4f}", "next": nxt}
            else:
                needed = {
                    "cartons": more,
                    "amount": round(more * price, 2),
                    "price": price,
                    "tier": nxt,
                    "score": target,
                }
                move = ngettext(
                    "You need a score of %(target)s for D%(next)s: about %(more)s more carton a month at your price "
                    "mix (%(price)s yuan a carton), that is about %(yuan)s yuan more a month.",
                    "You need a score of %(target)s for D%(next)s: about %(more)s more cartons a month at your price "
                    "mix (%(price)s yuan a carton), that is about %(yuan)s yuan more a month.",
                    more,
                ) % {
                    "target": f"{target:.4f}",
                    "next": nxt,
                    "more": more,
                    "price": f"{price:.2f}",
                    "yuan": _fmt0(more * price),
                }
    move = _with_hold(score, snap, move)
    return {"headline": headline, "components": rows, "move_up": move, "needed": needed, "window": window_text}


# --- org units' own schemes (the scheme pages) -----------------------------------------------------------------------
SCHEME_SETTINGS = (
    "tier_count",
    "method",
    "period",
    "window_months",
    "weights",
    "volume_bands",
    "price_bands",
    "initial_rules",
    "ability_rules",
    "shape",
    "hold_band",
    "max_step",
)


def new_override(org_unit: OrgUnit) -> TierScheme:
    """An unsaved scheme of ``org_unit``'s own, starting as a copy of the scheme it follows now and named after the
    unit; save it with :func:`save_scheme`. Refused when the unit already has its own scheme."""
    base = scheme_for(org_unit)
    if base.org_unit_id == org_unit.pk:
        raise ValidationError(_("%(unit)s already has its own tier scheme.") % {"unit": org_unit.name})
    values = {name: copy.deepcopy(getattr(base, name)) for name in SCHEME_SETTINGS}
    return TierScheme(org_unit=org_unit, name=_("%(unit)s tier scheme") % {"unit": org_unit.name}, **values)


def delete_scheme(scheme: TierScheme, user: Any) -> TierScheme:
    """Remove an org unit's own scheme so the unit follows its parent's (or the city's) again, audited; returns the
    scheme the unit follows now.

    Removing an override changes the unit's configuration, so it takes the change permission (the centre holds add and
    change on schemes, not delete). The city scheme is never removed. A scheme a recompute used stays as that run's
    record (``TierRun.scheme`` protects it): the refusal says so."""
    if user is not None:
        if not has_model_perm(user, TierScheme, "change"):
            raise PermissionDenied
        scope = user_scope(user)
        if scheme.org_unit_id is not None and not (
            scope.kind in ("all", "org")
            and OrgUnit.objects.get_queryset().in_scope(scope).filter(pk=scheme.org_unit_id).exists()
        ):
            raise OutOfScope
    if scheme.org_unit_id is None:
        raise ValidationError(
            _("The city scheme cannot be removed: every unit without a scheme of its own follows it.")
        )
    unit = scheme.org_unit
    runs = list(TierRun.objects.filter(scheme=scheme).order_by("-id").values_list("pk", flat=True)[:5])
    if runs:
        raise ValidationError(
            _(
                "Recomputes used this scheme (%(runs)s); it stays as their record and cannot be removed. Change its "
                "settings instead."
            )
            % {"runs": ", ".join(str(pk) for pk in runs)}
        )
    try:
        with transaction.atomic(), acting_as(user):
            scheme.delete()
    except ProtectedError as exc:  # a recompute started in between
        raise ValidationError(_("A recompute uses this scheme now; it cannot be removed.")) from exc
    return scheme_for(unit)
