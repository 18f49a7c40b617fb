"""The 4+X evaluation: retailer classes from four standard dimensions plus configurable local ones.

A :class:`ClassScheme`'s ``dimensions`` is a list; each dimension has a ``code``, a ``name``, a ``kind``
(standard | local), a ``source`` and ``levels`` (each ``{"code", "label", "match"}``), and optionally a ``default``
level code for retailers no level matches (else ``-``). Sources:

* ``format`` — ``Retailer.business_format``; ``match`` lists format values;
* ``market_type`` — urban | rural;
* ``scale`` — from the tier (``"by": "tier"``, default) or from the cartons a month of the latest applied tier
  recompute (``"by": "volume"``); ``match`` is a range ``{"min": a, "max": b}`` (min included, max excluded);
* ``credit`` — ``Retailer.credit_grade`` (AAA … D, ``""`` when not graded); ``match`` lists grades;
* ``field`` — a retailer field named by ``"field"`` (numbers: a range; choices: a list);
* ``manual`` — levels set by hand per retailer (``RetailerClass.manual``).

The class code joins the level codes in the dimensions' order: the 2008 preset (market type, format, scale) gives
codes like ``CZ1`` (城镇 食杂 big). ``classify`` computes every open retailer's class in bulk; ``class_codes`` is what
allocation's tier × class variant reads.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cmdesk.core.audit import acting_as
from cmdesk.core.scope import has_model_perm
from cmdesk.org.choices import OrgKind
from cmdesk.retail.choices import FORMAT_LETTER, BusinessFormat, CreditGrade, MarketType, RetailerStatus
from cmdesk.retail.models import Retailer

from ..models import ClassPreset, ClassScheme, RetailerClass, RunStatus, TierScore

SOURCES = ("format", "market_type", "scale", "credit", "field", "manual")
RANGE_FIELDS = ("floor_area", "display_fixtures", "tier")
CHOICE_FIELDS = ("order_method", "settlement_method", "business_format", "market_type", "credit_grade", "status")
GONE = (RetailerStatus.CLOSED, RetailerStatus.CANCELLED)
UNMATCHED = "-"
BATCH = 2000

FORMAT_LABELS = {
    BusinessFormat.GROCERY: "食杂",
    BusinessFormat.CONVENIENCE: "便利",
    BusinessFormat.SUPERMARKET: "超市",
    BusinessFormat.MALL: "商场",
    BusinessFormat.TOBACCO_LIQUOR: "烟酒",
    BusinessFormat.ENTERTAINMENT: "娱乐服务",
    BusinessFormat.OTHER: "其他",
}


# --- presets ---------------------------------------------------------------------------------------------------------
def _format_dim() -> dict[str, Any]:
    return {
        "code": "format",
        "name": "业态",
        "kind": "standard",
        "source": "format",
        "levels": [{"code": FORMAT_LETTER[f], "label": FORMAT_LABELS[f], "match": [f.value]} for f in FORMAT_LETTER],
    }


def _market_dim() -> dict[str, Any]:
    return {
        "code": "market",
        "name": "市场类型",
        "kind": "standard",
        "source": "market_type",
        "levels": [
            {"code": "C", "label": "城镇", "match": [MarketType.URBAN.value]},
            {"code": "X", "label": "乡村", "match": [MarketType.RURAL.value]},
        ],
    }


def _scale_dim() -> dict[str, Any]:
    return {
        "code": "scale",
        "name": "经营规模",
        "kind": "standard",
        "source": "scale",
        "by": "tier",
        "levels": [
            {"code": "1", "label": "大", "match": {"min": 21, "max": 31}},
            {"code": "2", "label": "中", "match": {"min": 11, "max": 21}},
            {"code": "3", "label": "小", "match": {"min": 1, "max": 11}},
        ],
        "default": "3",
    }


def preset_2008() -> list[dict[str, Any]]:
    """The 2008 coding: market type (城镇 C / 乡村 X) × 7 formats (Z B S N Y F Q) × scale (1 big, 2 mid, 3 small)."""
    return [_market_dim(), _format_dim(), _scale_dim()]


def preset_4x() -> list[dict[str, Any]]:
    """4+X: the four standard dimensions (format, market type, scale, credit) and one local one (floor area)."""
    credit = {
        "code": "credit",
        "name": "诚信守法",
        "kind": "standard",
        "source": "credit",
        "levels": [
            {"code": "A", "label": "优", "match": [CreditGrade.AAA.value, CreditGrade.AA.value]},
            {"code": "B", "label": "良", "match": [CreditGrade.A.value]},
            {"code": "C", "label": "一般", "match": [CreditGrade.B.value, CreditGrade.C.value, CreditGrade.D.value]},
            {"code": "N", "label": "未评", "match": [""]},
        ],
    }
    area = {
        "code": "area",
        "name": "经营面积",
        "kind": "local",
        "source": "field",
        "field": "floor_area",
        "levels": [
            {"code": "L", "label": "≥ 50 m²", "match": {"min": 50}},
            {"code": "M", "label": "20–50 m²", "match": {"min": 20, "max": 50}},
            {"code": "S", "label": "< 20 m²", "match": {"max": 20}},
        ],
        "default": "S",
    }
    return [_market_dim(), _format_dim(), _scale_dim(), credit, area]


PRESETS = {ClassPreset.CODE_2008: preset_2008, ClassPreset.FOUR_X: preset_4x}


def create_preset(preset: str, name: str, user: Any = None, *, active: bool = False) -> ClassScheme:
    """A new scheme with a preset's dimensions."""
    if preset not in PRESETS:
        raise ValidationError({"preset": [_("Unknown preset %(value)r.") % {"value": preset}]})
    scheme = ClassScheme(name=name, preset=preset, dimensions=PRESETS[preset](), active=active)
    return save_scheme(scheme, user)


# --- validation ------------------------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def validate_dimensions(dimensions: Any) -> None:
    """Check a dimensions configuration; each message names the dimension (and level)."""
    if not isinstance(dimensions, list) or not dimensions:
        raise ValidationError({"dimensions": [_("Give at least one dimension.")]})
    errors: list[str] = []
    seen: set[str] = set()
    for n, dim in enumerate(dimensions, start=1):
        if not isinstance(dim, dict):
            errors.append(_("Dimension %(n)s must be an object.") % {"n": n})
            continue
        code = dim.get("code")
        where = code or str(n)
        if not code or not isinstance(code, str):
            errors.append(_("Dimension %(n)s has no code.") % {"n": n})
        elif code in seen:
            errors.append(_("The dimension code %(code)s is used twice.") % {"code": code})
        seen.add(code or "")
        source = dim.get("source")
        if source not in SOURCES:
            errors.append(
                _("Dimension %(dim)s: unknown source %(source)r; known: %(known)s.")
                % {"dim": where, "source": source, "known": ", ".join(SOURCES)}
            )
            continue
        if dim.get("kind", "standard") not in ("standard", "local"):
            errors.append(_("Dimension %(dim)s: the kind is standard or local.") % {"dim": where})
        ranged = source == "scale" or (source == "field" and dim.get("field") in RANGE_FIELDS)
        if source == "field" and dim.get("field") not in RANGE_FIELDS + CHOICE_FIELDS:
            errors.append(
                _("Dimension %(dim)s: field %(field)r is not one of %(known)s.")
                % {"dim": where, "field": dim.get("field"), "known": ", ".join(RANGE_FIELDS + CHOICE_FIELDS)}
            )
        if source == "scale" and dim.get("by", "tier") not in ("tier", "volume"):
            errors.append(_("Dimension %(dim)s: scale is by tier or by volume.") % {"dim": where})
        levels = dim.get("levels")
        if not isinstance(levels, list) or not levels:
            errors.append(_("Dimension %(dim)s has no levels.") % {"dim": where})
            continue
        codes: set[str] = set()
        for level in levels:
            lcode = level.get("code") if isinstance(level, dict) else None
            if not lcode or not isinstance(lcode, str):
                errors.append(_("Dimension %(dim)s: a level has no code.") % {"dim": where})
                continue
            if lcode in codes:
                errors.append(_("Dimension %(dim)s: level %(level)s is used twice.") % {"dim": where, "level": lcode})
            codes.add(lcode)
            match = level.get("match")
            if source == "manual":
                continue
            if ranged:
                ok = (
                    isinstance(match, dict)
                    and set(match) <= {"min", "max"}
                    and all(_is_number(v) for v in match.values())
                    and not ("min" in match and "max" in match and match["min"] >= match["max"])
                )
                if not ok:
                    errors.append(
                        _('Dimension %(dim)s, level %(level)s: give a range {"min": a, "max": b} with a < b.')
                        % {"dim": where, "level": lcode}
                    )
            elif not isinstance(match, list):
                errors.append(
                    _("Dimension %(dim)s, level %(level)s: give the list of values it matches.")
                    % {"dim": where, "level": lcode}
                )
        default = dim.get("default")
        if default is not None and default not in codes:
            errors.append(
                _("Dimension %(dim)s: the default %(level)s is not one of its levels.")
                % {"dim": where, "level": default}
            )
    if errors:
        raise ValidationError({"dimensions": errors})


def save_scheme(scheme: ClassScheme, user: Any = None) -> ClassScheme:
    """Validate and save; activating a scheme deactivates the others (one active 4+X scheme at a time)."""
    if user is not None and not has_model_perm(user, ClassScheme, "change" if scheme.pk else "add"):
        raise PermissionDenied
    validate_dimensions(scheme.dimensions)
    if scheme.preset not in ClassPreset.values:
        raise ValidationError({"preset": [_("Unknown preset %(value)r.") % {"value": scheme.preset}]})
    with transaction.atomic(), acting_as(user):
        if scheme.active:
            for other in ClassScheme.objects.filter(active=True).exclude(pk=scheme.pk):
                other.active = False
                other.save(update_fields=["active", "updated_at"])
        scheme.save()
    return scheme


# --- computing -------------------------------------------------------------------------------------------------------
def _in_range(value: Any, match: dict) -> bool:
    if value is None:
        return False
    value = float(value)
    return ("min" not in match or value >= float(match["min"])) and ("max" not in match or value < float(match["max"]))


def level_of(dim: dict, value: Any) -> str:
    """The level code of one value under a dimension (its default, or ``-``, when none matches)."""
    ranged = dim["source"] == "scale" or (dim["source"] == "field" and dim.get("field") in RANGE_FIELDS)
    for level in dim["levels"]:
        match = level.get("match")
        if ranged:
            if isinstance(match, dict) and _in_range(value, match):
                return level["code"]
        elif isinstance(match, list) and (value if value is not None else "") in match:
            return level["code"]
    return dim.get("default") or UNMATCHED


def latest_volumes(retailer_ids: list[int] | None = None) -> dict[int, float]:
    """Cartons a month of each retailer in its latest applied tier recompute."""
    qs = TierScore.objects.filter(run__status=RunStatus.APPLIED)
    if retailer_ids is not None:
        qs = qs.filter(retailer_id__in=retailer_ids)
    out: dict[int, float] = {}
    for rid, cartons in qs.order_by("retailer_id", "-run__effective", "-run_id").values_list(
        "retailer_id", "components__cartons"
    ):
        if rid not in out:
            out[rid] = float(cartons or 0)
    return out


FIELDS = ("id", "business_format", "market_type", "tier", "credit_grade", *RANGE_FIELDS, *CHOICE_FIELDS)


def compute(
    scheme: ClassScheme, rows: list[dict], manual: dict[int, dict], volumes: dict[int, float]
) -> dict[int, tuple[str, dict]]:
    """Each retailer's (code, {dimension: level}) from its field values (dicts of ``FIELDS``)."""
    out = {}
    for row in rows:
        levels: dict[str, str] = {}
        for dim in scheme.dimensions:
            src = dim["source"]
            if src == "format":
                value = row["business_format"]
            elif src == "market_type":
                value = row["market_type"]
            elif src == "credit":
                value = row["credit_grade"] or ""
            elif src == "scale":
                value = volumes.get(row["id"]) if dim.get("by") == "volume" else row["tier"]
            elif src == "field":
                value = row[dim["field"]]
            else:
                value = None
            if src == "manual":
                levels[dim["code"]] = manual.get(row["id"], {}).get(dim["code"]) or dim.get("default") or UNMATCHED
            else:
                levels[dim["code"]] = level_of(dim, value)
        out[row["id"]] = ("".join(levels[d["code"]] for d in scheme.dimensions), levels)
    return out


def _needs_volume(scheme: ClassScheme) -> bool:
    return any(d["source"] == "scale" and d.get("by") == "volume" for d in scheme.dimensions)


def classify(scheme: ClassScheme, user: Any = None) -> dict[str, Any]:
    """Compute and store the class of every open retailer in bulk (manual levels are kept); audited on the scheme."""
    if user is not None and not has_model_perm(user, ClassScheme, "change"):
        raise PermissionDenied
    validate_dimensions(scheme.dimensions)
    rows = list(Retailer.objects.exclude(status__in=GONE).order_by("id").values(*set(FIELDS)))
    manual = dict(RetailerClass.objects.filter(scheme=scheme).exclude(manual={}).values_list("retailer_id", "manual"))
    volumes = latest_volumes() if _needs_volume(scheme) else {}
    result = compute(scheme, rows, manual, volumes)
    with transaction.atomic(), acting_as(user):
        RetailerClass.objects.filter(scheme=scheme).exclude(retailer_id__in=list(result)).delete()
        RetailerClass.objects.bulk_create(
            [
                RetailerClass(scheme=scheme, retailer_id=rid, code=code, levels=levels, manual=manual.get(rid, {}))
                for rid, (code, levels) in result.items()
            ],
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["scheme", "retailer"],
            update_fields=["code", "levels", "computed_at"],
        )
        scheme.computed_at = timezone.now()
        scheme.save(update_fields=["computed_at"])
    counts = Counter(code for code, _l in result.values())
    return {"retailers": len(result), "classes": len(counts)}


def set_manual_level(rclass: RetailerClass, dimension: str, level: str, user: Any = None) -> RetailerClass:
    """Set a retailer's level of a manual dimension by hand and recompute its code (audited)."""
    if user is not None and not has_model_perm(user, RetailerClass, "change"):
        raise PermissionDenied
    scheme = rclass.scheme
    dim = next((d for d in scheme.dimensions if d["code"] == dimension), None)
    if dim is None or dim["source"] != "manual":
        raise ValidationError(
            {
                "dimension": [
                    _("%(dim)s is not a manual dimension of %(scheme)s.") % {"dim": dimension, "scheme": scheme}
                ]
            }
        )
    if level not in {lv["code"] for lv in dim["levels"]}:
        raise ValidationError(
            {"level": [_("%(level)s is not a level of %(dim)s.") % {"level": level, "dim": dim.get("name", dimension)}]}
        )
    with transaction.atomic(), acting_as(user):
        rclass.manual = {**rclass.manual, dimension: level}
        row = Retailer.objects.filter(pk=rclass.retailer_id).values(*set(FIELDS)).get()
        volumes = latest_volumes([row["id"]]) if _needs_volume(scheme) else {}
        code, levels = compute(scheme, [row], {row["id"]: rclass.manual}, volumes)[row["id"]]
        rclass.code, rclass.levels = code, levels
        rclass.save()
    return rclass


def active_scheme() -> ClassScheme | None:
    return ClassScheme.objects.filter(active=True).order_by("-updated_at").first()


def class_codes(retailer_ids: list[int], scheme: ClassScheme | None = None) -> dict[int, str]:
    """The class code of each retailer under ``scheme`` (default: the active one): stored codes, and for retailers
    the last classify did not cover, computed now (not stored). Empty when there is no scheme."""
    scheme = scheme or active_scheme()
    if scheme is None:
        return {}
    ids = list(retailer_ids)
    out: dict[int, str] = {}
    for k in range(0, len(ids) if scheme.pk else 0, BATCH):
        out.update(
            RetailerClass.objects.filter(scheme=scheme, retailer_id__in=ids[k : k + BATCH]).values_list(
                "retailer_id", "code"
            )
        )
    missing = [i for i in ids if i not in out]
    if missing:
        rows = []
        for k in range(0, len(missing), BATCH):
            rows.extend(Retailer.objects.filter(pk__in=missing[k : k + BATCH]).values(*set(FIELDS)))
        volumes = latest_volumes(missing) if _needs_volume(scheme) else {}
        out.update({rid: code for rid, (code, _l) in compute(scheme, rows, {}, volumes).items()})
    return out


# --- distribution ----------------------------------------------------------------------------------------------------
def distribution(scheme: ClassScheme, classes_qs) -> dict[str, Any]:
    """Counts per class code, overall and per county branch, of the (already restricted) RetailerClass rows."""
    from cmdesk.org.models import OrgUnit

    branches = {u.path: u for u in OrgUnit.objects.filter(kind=OrgKind.BRANCH)}
    step = OrgUnit.steplen
    per: dict[str, Counter] = defaultdict(Counter)
    total: Counter = Counter()
    for code, path in classes_qs.values_list("code", "retailer__route__org_unit__path"):
        total[code] += 1
        branch = next((branches[path[:i]] for i in range(step, len(path) + 1, step) if path[:i] in branches), None)
        per[branch.name if branch else "-"][code] += 1
    codes = sorted(total)
    return {
        "codes": codes,
        "total": [total[c] for c in codes],
        "count": sum(total.values()),
        "branches": [
            {"name": name, "counts": [per[name][c] for c in codes], "count": sum(per[name].values())}
            for name in sorted(per)
        ],  # fmt: skip
    }


def level_labels(scheme: ClassScheme) -> dict[str, str]:
    """A code's meaning for each single-letter code combination is long; this gives each dimension's level labels."""
    return {f"{d['code']}:{lv['code']}": lv.get("label", lv["code"]) for d in scheme.dimensions for lv in d["levels"]}


def describe(scheme: ClassScheme, levels: dict[str, str]) -> str:
    """A class in words: 城镇 · 食杂 · 大."""
    labels = level_labels(scheme)
    return " · ".join(
        str(labels.get(f"{d['code']}:{levels.get(d['code'])}", levels.get(d["code"], UNMATCHED)))
        for d in scheme.dimensions
    )
