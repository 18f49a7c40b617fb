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

import copy
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.translation import gettext as _

from cmdesk.core.audit import acting_as, changes_of, log_bulk_updates
from cmdesk.core.scope import has_model_perm, user_scope
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
AUDITED = ("manual", "code", "levels")  # the fields a manual change writes to the audit log

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


# --- manual levels: counts and the bulk upload -----------------------------------------------------------------------
MANUAL_MAX_ROWS = 50_000  # a city has about 26,400 retailers
MANUAL_FIXED_COLUMNS = 2  # A: licence number, B: retailer name (read for nothing); the dimensions from C
_HEADER_CODE = re.compile(r"\(([^()]+)\)\s*$")


def manual_dimensions(scheme: ClassScheme) -> list[dict]:
    """The scheme's dimensions whose levels are set by hand."""
    return [d for d in scheme.dimensions if d.get("source") == "manual"]


def manual_header(dim: dict) -> str:
    """A manual dimension's column header in the template: ``陈列 (display)``; the upload reads the code back."""
    return f"{dim.get('name') or dim['code']} ({dim['code']})"


def manual_counts(scheme: ClassScheme, classes_qs) -> list[dict[str, Any]]:
    """For each manual dimension of the (already restricted) RetailerClass rows: how many have a level set by hand,
    how many not (they take the dimension's default), and the count per level set."""
    if not manual_dimensions(scheme):
        return []
    total = classes_qs.count()
    out = []
    for dim in manual_dimensions(scheme):
        per = dict(
            classes_qs.filter(manual__has_key=dim["code"])
            .order_by()
            .values(level=KeyTextTransform(dim["code"], "manual"))
            .annotate(n=Count("id"))
            .values_list("level", "n")
        )
        levels = [
            {"code": lv["code"], "label": lv.get("label", ""), "count": per.get(lv["code"], 0)} for lv in dim["levels"]
        ]
        done = sum(per.values())
        out.append(
            {
                "dim": dim,
                "set": done,
                "unset": total - done,
                "default": dim.get("default") or UNMATCHED,
                "levels": levels,
            }
        )
    return out


def _cell_text(value: Any) -> str:
    """A cell as text: numbers without a trailing ``.0`` (Excel stores ``1`` and licence numbers as floats)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _level_code(dim: dict, text: str) -> str | None:
    """The level code a cell names: the code itself, the code in another case, or the level's label."""
    levels = dim["levels"]
    for lv in levels:
        if lv["code"] == text:
            return lv["code"]
    folded = [lv["code"] for lv in levels if lv["code"].casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    labelled = [lv["code"] for lv in levels if str(lv.get("label", "")) == text]
    return labelled[0] if len(labelled) == 1 else None


Problem = tuple[int, int, str]  # row number (1: the header), column index (0: A), reason


def _manual_columns(scheme: ClassScheme, header: Sequence[Any], problems: list[Problem]) -> dict[int, dict]:
    """Map the header's dimension columns (C onwards) to manual dimensions; bad headers go to ``problems``."""
    by_code = {d["code"]: d for d in scheme.dimensions}
    by_name = {str(d.get("name")): d for d in scheme.dimensions if d.get("name")}
    columns: dict[int, dict] = {}
    seen: dict[str, int] = {}
    for index in range(MANUAL_FIXED_COLUMNS, len(header)):
        text = _cell_text(header[index])
        if not text:
            continue
        found = _HEADER_CODE.search(text)
        dim = by_code.get(found.group(1).strip()) if found else None
        dim = dim or by_code.get(text) or by_name.get(text)
        if dim is None:
            reason = _("%(value)s is not a dimension of this scheme.") % {"value": text}
        elif dim.get("source") != "manual":
            reason = _("%(dim)s is not a manual dimension: its levels are computed.") % {
                "dim": dim.get("name") or dim["code"]
            }
        elif dim["code"] in seen:
            reason = _("%(dim)s is already in column %(other)s.") % {
                "dim": dim.get("name") or dim["code"],
                "other": _column_letter(seen[dim["code"]]),
            }
        else:
            seen[dim["code"]] = index
            columns[index] = dim
            continue
        problems.append((1, index, reason))
    return columns


def _row_message(row: int, column: int, reason: str) -> str:
    return _("row %(row)s, column %(column)s: %(reason)s") % {
        "row": row,
        "column": _column_letter(column),
        "reason": reason,
    }


def _parse_manual_rows(
    scheme: ClassScheme, rows: Iterable[Sequence[Any]], problems: list[Problem]
) -> tuple[dict[int, tuple[str, dict[str, str]]], int]:
    """The sheet's rows as {row number: (licence, {dimension: level code})} (blank cells left out) and the count of
    non-blank rows; what cannot be read goes to ``problems``."""
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        raise ValidationError(_("The sheet is empty: the first row must be the header."))
    header = list(header)
    columns = _manual_columns(scheme, header, problems)
    if not columns and not problems:
        raise ValidationError(_("The header names no manual dimension from column C on."))
    wanted: dict[int, tuple[str, dict[str, str]]] = {}
    first_row: dict[str, int] = {}
    count = 0
    for number, row in enumerate(rows, start=2):
        cells = [_cell_text(v) for v in row]
        if not any(cells):
            continue
        count += 1
        if count > MANUAL_MAX_ROWS:
            raise ValidationError(_("More than %(n)s rows: split the file.") % {"n": MANUAL_MAX_ROWS})
        licence = cells[0]
        if not licence:
            problems.append((number, 0, _("the licence number is missing.")))
        elif licence in first_row:
            problems.append(
                (number, 0, _("the licence number %(value)s is already on row %(other)s.")
                 % {"value": licence, "other": first_row[licence]})
            )  # fmt: skip
        else:
            first_row[licence] = number
        levels: dict[str, str] = {}
        for index in range(MANUAL_FIXED_COLUMNS, len(cells)):
            text = cells[index]
            if not text:
                continue  # blank: leave as is
            dim = columns.get(index)
            if dim is None:
                if not _cell_text(header[index] if index < len(header) else None):
                    problems.append((number, index, _("the column has no dimension in its header.")))
                continue  # a bad header is reported once, on row 1
            code = _level_code(dim, text)
            if code is None:
                reason = _("%(value)s is not a level of %(dim)s (levels: %(levels)s).") % {
                    "value": text,
                    "dim": dim.get("name") or dim["code"],
                    "levels": ", ".join(lv["code"] for lv in dim["levels"]),
                }
                problems.append((number, index, reason))
            else:
                levels[dim["code"]] = code
        if licence and first_row.get(licence) == number:
            wanted[number] = (licence, levels)
    if count == 0 and not problems:
        raise ValidationError(_("The file has no rows under the header."))
    return wanted, count


def set_manual_levels(scheme: ClassScheme, rows: Iterable[Sequence[Any]], user: Any = None) -> dict[str, int]:
    """Set many retailers' manual levels at once from a sheet's rows, the header first, as the template has them:
    licence number, retailer name, then one column per manual dimension named by its code, its name or
    ``name (code)``. A blank cell leaves that level as it is.

    Every row is checked first (unknown licence, a retailer outside the user's scope or not classified under the
    scheme, a repeated licence, a column that is not a manual dimension, a level the dimension does not have); the
    problems, each "row N, column X: reason", come together in one ValidationError and nothing is written.
    Otherwise each retailer whose levels change gets its code recomputed and is saved with its audit row, as
    :func:`set_manual_level` does, all in one transaction. Returns the rows read and the retailers changed."""
    if user is not None and not has_model_perm(user, RetailerClass, "change"):
        raise PermissionDenied
    if not manual_dimensions(scheme):
        raise ValidationError(_("%(scheme)s has no manual dimension.") % {"scheme": scheme})
    problems: list[Problem] = []
    wanted, count = _parse_manual_rows(scheme, rows, problems)
    scope = user_scope(user) if user is not None else None
    with transaction.atomic(), acting_as(user):
        # which licences exist, which of those the user may reach, which are classified under the scheme
        licences = [licence for licence, _levels in wanted.values()]
        ids: dict[str, int] = {}
        reachable: set[int] = set()
        classes: dict[int, RetailerClass] = {}
        for k in range(0, len(licences), BATCH):
            part = licences[k : k + BATCH]
            found = Retailer.objects.filter(licence_no__in=part)
            ids.update(found.values_list("licence_no", "id"))
            reachable.update((found.in_scope(scope) if scope is not None else found).values_list("id", flat=True))
            rcs = RetailerClass.objects.filter(scheme=scheme, retailer__licence_no__in=part)
            if user is not None:
                rcs = rcs.restrict(user, "change")
            classes.update((rc.retailer_id, rc) for rc in rcs.select_for_update())
        for number, (licence, _levels) in wanted.items():
            rid = ids.get(licence)
            if rid is None or rid not in reachable:
                # the same answer for both: a head does not learn which licences exist outside its scope
                reason = _("no retailer in your scope has the licence number %(value)s.") % {"value": licence}
                problems.append((number, 0, reason))
            elif rid not in classes:
                reason = _("the retailer %(value)s has no class under this scheme yet: classify first.") % {
                    "value": licence
                }
                problems.append((number, 0, reason))
        if problems:
            raise ValidationError([_row_message(*p) for p in sorted(problems)])

        changed: list[tuple[RetailerClass, RetailerClass, str]] = []  # (before, after, licence)
        for licence, levels in wanted.values():
            rc = classes[ids[licence]]
            manual = {**rc.manual, **levels}
            if manual != rc.manual:
                before = copy.copy(rc)
                rc.manual = manual
                changed.append((before, rc, licence))
        now = timezone.now()
        for k in range(0, len(changed), BATCH):
            part = changed[k : k + BATCH]
            rids = [rc.retailer_id for _b, rc, _l in part]
            fields = list(Retailer.objects.filter(pk__in=rids).values(*set(FIELDS)))
            volumes = latest_volumes(rids) if _needs_volume(scheme) else {}
            result = compute(scheme, fields, {rc.retailer_id: rc.manual for _b, rc, _l in part}, volumes)
            for _b, rc, _l in part:
                rc.code, rc.levels = result[rc.retailer_id]
                rc.computed_at = now
            # in bulk, one UPDATE per distinct (manual, code, levels), with the audit row each retailer's save() would
            # have written (as set_manual_level does)
            same: dict[str, list[RetailerClass]] = defaultdict(list)
            for _b, rc, _l in part:
                same[json.dumps([rc.manual, rc.code, rc.levels], sort_keys=True)].append(rc)
            for group in same.values():
                first = group[0]
                RetailerClass.objects.filter(pk__in=[rc.pk for rc in group]).update(
                    manual=first.manual, code=first.code, levels=first.levels, computed_at=now
                )
            log_bulk_updates(
                RetailerClass,
                ((rc.pk, f"{licence}: {rc.code}", changes_of(b, rc, AUDITED)) for b, rc, licence in part),
            )
    return {"rows": count, "changed": len(changed)}
