"""Scoring rules: pure functions from a measured value to points, with the rule as applied in words.

Every rule takes the item's weight (full marks), its parameters (``SchemeItem.rule_params``) and the measured value
(a Decimal: ratios are in percent, e.g. 93.5 for 93.5 %; counts are plain numbers) and returns a :class:`RuleResult`:
the points (rounded to 0.01) and the arithmetic that produced them, e.g. "测得 93.5, 目标 95: 15 − 0.5 × 1.5 = 14.25".

Kinds (``models.Rule``):

* ``linear`` — ``{"floor": F, "target": T, "bonus_per_unit_above": B?, "cap": C?}``: measured ≤ F → 0; ≥ T → full
  weight; linear in between; above T, ``B`` points per unit over T, the total never above ``C`` (default: the weight).
  ``F`` > ``T`` turns the direction round (lower is better).
* ``steps`` — ``{"steps": [[threshold, points], …]}``: the points of the highest threshold reached (0 below the lowest).
* ``per_occurrence`` — ``{"deduction": D, "max_deduction": M?}``: weight − D × occurrences (the measured value), the
  deduction at most ``M`` (default: the weight), never below 0.
* ``target_per_point`` — ``{"target": T, "penalty_per_point": P, "bonus_per_point": B?, "cap": C?}``: measured ≥ T →
  weight + B × points over (at most ``C``, default the weight); below → weight − P × points short, never below 0.
* ``manual`` — ``{"min": 0?, "max": weight?}``: the points a person gives, which need a written justification.

No database access here: the tests check every boundary with exact Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cmdesk.assess.models import Rule

ZERO = Decimal("0")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class RuleResult:
    points: Decimal
    text: str


def fmt(value: Decimal | int | float | None) -> str:
    """A number as people write it: no trailing zeros, no exponent (93.50 → 93.5, 15.00 → 15)."""
    if value is None:
        return "—"
    d = Decimal(str(value))
    if d == d.to_integral_value():
        return str(d.quantize(Decimal("1")))
    return format(d.normalize(), "f")


def fp(value: Decimal) -> str:
    """A number inside a formula: negatives in brackets, with a proper minus sign ("(−10)")."""
    text = fmt(value)
    return f"(−{text[1:]})" if text.startswith("-") else text


def q(value: Decimal) -> Decimal:
    """Points to 0.01, rounded half up (四舍五入)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def dec(value: Any, name: str = "value") -> Decimal:
    """A Decimal from a JSON number or string; ValidationError naming ``name`` otherwise."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationError(_("%(name)s must be a number, got %(value)r.") % {"name": name, "value": value})
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(_("%(name)s must be a number, got %(value)r.") % {"name": name, "value": value}) from None
    if not d.is_finite():
        raise ValidationError(_("%(name)s must be a finite number.") % {"name": name})
    return d


def _opt(params: dict, key: str) -> Decimal | None:
    return dec(params[key], key) if params.get(key) not in (None, "") else None


# ---- validation -----------------------------------------------------------------------------------------------------

KNOWN = {
    Rule.LINEAR: {"floor", "target", "bonus_per_unit_above", "cap"},
    Rule.STEPS: {"steps"},
    Rule.PER_OCCURRENCE: {"deduction", "max_deduction"},
    Rule.TARGET_PER_POINT: {"target", "penalty_per_point", "bonus_per_point", "cap"},
    Rule.MANUAL: {"min", "max"},
}


def validate_rule(rule: str, params: dict | None, weight: Decimal | int | str) -> dict:
    """Check ``params`` for ``rule`` with full marks ``weight``; ValidationError({"rule_params": [...]}) when wrong."""
    errors: list[str] = []
    params = params if params is not None else {}
    if not isinstance(params, dict):
        raise ValidationError({"rule_params": _("The rule parameters must be an object (a JSON dict).")})
    if rule not in KNOWN:
        raise ValidationError({"rule": _("Unknown scoring rule %(rule)r.") % {"rule": rule}})
    weight = dec(weight, "weight")
    unknown = sorted(set(params) - KNOWN[rule])
    if unknown:
        errors.append(
            _("Unknown parameter(s) %(names)s for the rule %(rule)s; allowed: %(allowed)s.")
            % {"names": ", ".join(unknown), "rule": rule, "allowed": ", ".join(sorted(KNOWN[rule]))}
        )

    def need(key: str, *, positive: bool = False, nonneg: bool = False) -> Decimal | None:
        if params.get(key) in (None, ""):
            errors.append(_("%(rule)s needs the parameter %(key)s.") % {"rule": rule, "key": key})
            return None
        try:
            v = dec(params[key], key)
        except ValidationError as exc:
            errors.extend(exc.messages)
            return None
        if positive and v <= 0:
            errors.append(_("%(key)s must be greater than 0.") % {"key": key})
        if nonneg and v < 0:
            errors.append(_("%(key)s must not be negative.") % {"key": key})
        return v

    def maybe(key: str) -> Decimal | None:
        try:
            v = _opt(params, key)
        except ValidationError as exc:
            errors.extend(exc.messages)
            return None
        if v is not None and v < 0:
            errors.append(_("%(key)s must not be negative.") % {"key": key})
        return v

    if rule == Rule.LINEAR:
        floor, target = need("floor"), need("target")
        if floor is not None and target is not None and floor == target:
            errors.append(_("floor and target must differ (floor %(f)s = target).") % {"f": fmt(floor)})
        maybe("bonus_per_unit_above")
        cap = maybe("cap")
        if cap is not None and cap < weight:
            errors.append(
                _("cap (%(cap)s) must not be below the weight (%(w)s).") % {"cap": fmt(cap), "w": fmt(weight)}
            )
    elif rule == Rule.STEPS:
        steps = params.get("steps")
        if not isinstance(steps, list) or not steps:
            errors.append(_("steps needs a non-empty list of [threshold, points] pairs."))
        else:
            seen = []
            for i, pair in enumerate(steps, 1):
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    errors.append(_("step %(i)s must be a [threshold, points] pair.") % {"i": i})
                    continue
                try:
                    t, p = dec(pair[0], f"step {i} threshold"), dec(pair[1], f"step {i} points")
                except ValidationError as exc:
                    errors.extend(exc.messages)
                    continue
                if p < 0 or p > weight:
                    errors.append(
                        _("step %(i)s gives %(p)s points: must be between 0 and the weight %(w)s.")
                        % {"i": i, "p": fmt(p), "w": fmt(weight)}
                    )
                if t in seen:
                    errors.append(_("step %(i)s repeats the threshold %(t)s.") % {"i": i, "t": fmt(t)})
                seen.append(t)
    elif rule == Rule.PER_OCCURRENCE:
        need("deduction", positive=True)
        maybe("max_deduction")
    elif rule == Rule.TARGET_PER_POINT:
        need("target")
        need("penalty_per_point", nonneg=True)
        maybe("bonus_per_point")
        cap = maybe("cap")
        if cap is not None and cap < weight:
            errors.append(
                _("cap (%(cap)s) must not be below the weight (%(w)s).") % {"cap": fmt(cap), "w": fmt(weight)}
            )
    elif rule == Rule.MANUAL:
        lo, hi = maybe("min"), maybe("max")
        if lo is not None and hi is not None and lo > hi:
            errors.append(_("min must not be above max."))
    if errors:
        raise ValidationError({"rule_params": errors})
    return params


# ---- the rules ------------------------------------------------------------------------------------------------------


def linear(weight: Decimal, params: dict, measured: Decimal) -> RuleResult:
    floor, target = dec(params["floor"], "floor"), dec(params["target"], "target")
    bonus = _opt(params, "bonus_per_unit_above") or ZERO
    cap = _opt(params, "cap")
    cap = weight if cap is None else cap
    lower_better = floor > target
    head = _("measured %(m)s, floor %(f)s, target %(t)s") % {"m": fmt(measured), "f": fmt(floor), "t": fmt(target)}
    reached = measured <= target if lower_better else measured >= target
    failed = measured >= floor if lower_better else measured <= floor
    if reached:
        over = (target - measured) if lower_better else (measured - target)
        if bonus and over:
            raw = weight + bonus * over
            pts = min(raw, cap)
            text = f"{head}: {fmt(weight)} + {fmt(bonus)} × {fmt(over)} = {fmt(q(raw))}"
            if raw > cap:
                text += _(", capped at %(cap)s") % {"cap": fmt(cap)}
            return RuleResult(q(pts), text)
        return RuleResult(q(weight), _("%(head)s: target reached, full %(w)s") % {"head": head, "w": fmt(weight)})
    if failed:
        return RuleResult(ZERO.quantize(CENT), _("%(head)s: at or beyond the floor, 0") % {"head": head})
    pts = weight * (measured - floor) / (target - floor)
    text = f"{head}: {fmt(weight)} × ({fp(measured)} − {fp(floor)}) ÷ ({fp(target)} − {fp(floor)}) = {fmt(q(pts))}"
    return RuleResult(q(pts), text)


def steps(weight: Decimal, params: dict, measured: Decimal) -> RuleResult:
    table = sorted((dec(t), dec(p)) for t, p in params["steps"])
    got, at = ZERO, None
    for threshold, points in table:
        if measured >= threshold:
            got, at = points, threshold
    got = min(got, weight)
    if at is None:
        return RuleResult(
            q(ZERO), _("measured %(m)s: below the lowest step %(t)s, 0") % {"m": fmt(measured), "t": fmt(table[0][0])}
        )
    return RuleResult(
        q(got),
        _("measured %(m)s: step ≥ %(t)s gives %(p)s") % {"m": fmt(measured), "t": fmt(at), "p": fmt(got)},
    )


def per_occurrence(weight: Decimal, params: dict, measured: Decimal) -> RuleResult:
    each = dec(params["deduction"], "deduction")
    most = _opt(params, "max_deduction")
    most = weight if most is None else min(most, weight)
    n = max(measured, ZERO)
    raw = each * n
    ded = min(raw, most)
    pts = max(weight - ded, ZERO)
    text = _("%(n)s occurrence(s): %(w)s − %(d)s × %(n)s = %(p)s") % {
        "n": fmt(n),
        "w": fmt(weight),
        "d": fmt(each),
        "p": fmt(q(weight - raw)) if raw <= most else fmt(q(pts)),
    }
    if raw > most:
        text += _(" (deduction capped at %(max)s)") % {"max": fmt(most)}
    return RuleResult(q(pts), text)


def target_per_point(weight: Decimal, params: dict, measured: Decimal) -> RuleResult:
    target = dec(params["target"], "target")
    penalty = dec(params["penalty_per_point"], "penalty_per_point")
    bonus = _opt(params, "bonus_per_point") or ZERO
    cap = _opt(params, "cap")
    cap = weight if cap is None else cap
    head = _("measured %(m)s, target %(t)s") % {"m": fmt(measured), "t": fmt(target)}
    if measured >= target:
        over = measured - target
        raw = weight + bonus * over
        pts = min(raw, cap)
        if not (bonus and over):
            return RuleResult(q(weight), _("%(head)s: target reached, full %(w)s") % {"head": head, "w": fmt(weight)})
        text = f"{head}: {fmt(weight)} + {fmt(bonus)} × {fmt(over)} = {fmt(q(raw))}"
        if raw > cap:
            text += _(", capped at %(cap)s") % {"cap": fmt(cap)}
        return RuleResult(q(pts), text)
    short = target - measured
    raw = weight - penalty * short
    pts = max(raw, ZERO)
    text = f"{head}: {fmt(weight)} − {fmt(penalty)} × {fmt(short)} = {fmt(q(raw))}"
    if raw < 0:
        text += _(", not below 0")
    return RuleResult(q(pts), text)


def manual(weight: Decimal, params: dict, points: Decimal | None, justification: str = "") -> RuleResult:
    """A person's rating: ``points`` within [min, max] (default [0, weight]) and a justification."""
    if points is None:
        raise ValidationError({"points": _("A manual rating needs the points.")})
    if not (justification or "").strip():
        raise ValidationError({"justification": _("A manual rating needs a written justification.")})
    lo = _opt(params, "min") or ZERO
    hi = _opt(params, "max")
    hi = weight if hi is None else hi
    points = dec(points, "points")
    if points < lo or points > hi:
        raise ValidationError(
            {"points": _("The points must be between %(lo)s and %(hi)s.") % {"lo": fmt(lo), "hi": fmt(hi)}}
        )
    return RuleResult(q(points), _("rated %(p)s by hand: %(why)s") % {"p": fmt(points), "why": justification.strip()})


RULES = {
    Rule.LINEAR: linear,
    Rule.STEPS: steps,
    Rule.PER_OCCURRENCE: per_occurrence,
    Rule.TARGET_PER_POINT: target_per_point,
}


def apply(rule: str, weight: Decimal | int | str, params: dict, measured: Decimal | int | str) -> RuleResult:
    """Score ``measured`` by ``rule`` (not manual: use :func:`manual`)."""
    weight = dec(weight, "weight")
    validate_rule(rule, params, weight)
    if rule == Rule.MANUAL:
        raise ValidationError({"rule": _("A manual item is rated by a person, not computed.")})
    return RULES[rule](weight, params, dec(measured, "measured"))
