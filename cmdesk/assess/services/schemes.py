"""Assessment schemes: validation, activation, new versions, and the default scheme (DOMAIN.md's 100-point example)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext as _

from cmdesk.assess.models import ItemCategory, ItemGroup, Rule, Run, Scheme, SchemeItem, SchemeStatus, Source
from cmdesk.core.audit import acting_as
from cmdesk.org.models import OrgUnit

from .metrics import METRICS
from .rules import fmt, validate_rule

TOTAL = Decimal("100")
DEFAULT_NAME = "月度考核(默认)"


def validate_items(items: list[SchemeItem]) -> None:
    """Weights sum to exactly 100, codes unique, metrics known and of the item's source, rule parameters valid."""
    errors: list[str] = []
    if not items:
        raise ValidationError({"items": [_("A scheme needs at least one item.")]})
    seen: set[str] = set()
    for it in items:
        where = it.code or it.name or "?"
        if not it.code:
            errors.append(_("An item has no code."))
        elif it.code in seen:
            errors.append(_("The code %(code)s is used twice.") % {"code": it.code})
        seen.add(it.code)
        metric = METRICS.get(it.metric)
        if metric is None:
            errors.append(
                _("Item %(item)s: unknown metric %(metric)r; known: %(known)s.")
                % {"item": where, "metric": it.metric, "known": ", ".join(sorted(METRICS))}
            )
        elif metric.source != it.source:
            errors.append(
                _("Item %(item)s: the metric %(metric)s comes from %(src)s, not %(given)s.")
                % {"item": where, "metric": it.metric, "src": metric.source, "given": it.source}
            )
        if (it.rule == Rule.MANUAL) != (it.metric == "manual"):
            errors.append(
                _("Item %(item)s: the manual metric goes with the manual rule and only with it.") % {"item": where}
            )
        if it.weight is None or Decimal(str(it.weight)) < 0:
            errors.append(_("Item %(item)s: the weight must be 0 or more.") % {"item": where})
            continue
        try:
            validate_rule(it.rule, it.rule_params, it.weight)
        except ValidationError as exc:
            errors.extend(_("Item %(item)s: %(msg)s") % {"item": where, "msg": m} for m in exc.messages)
    total = sum((Decimal(str(it.weight or 0)) for it in items), Decimal("0"))
    if total != TOTAL:
        errors.append(_("The weights sum to %(total)s; they must sum to exactly 100.") % {"total": fmt(total)})
    if errors:
        raise ValidationError({"items": errors})


def validate_scheme(scheme: Scheme) -> None:
    validate_items(list(scheme.items.all()))


@transaction.atomic
def activate(scheme: Scheme, user: Any = None) -> Scheme:
    """Validate and activate ``scheme``; the other active versions of the same name and org unit are retired."""
    validate_scheme(scheme)
    with acting_as(user):
        for old in Scheme.objects.filter(
            name=scheme.name, org_unit=scheme.org_unit, status=SchemeStatus.ACTIVE
        ).exclude(pk=scheme.pk):
            old.status = SchemeStatus.RETIRED
            if old.valid_to is None and old.valid_from < scheme.valid_from:
                old.valid_to = scheme.valid_from - dt.timedelta(days=1)
            old.save(update_fields=["status", "valid_to"])
        scheme.status = SchemeStatus.ACTIVE
        scheme.save(update_fields=["status"])
    return scheme


@transaction.atomic
def new_version(scheme: Scheme, user: Any = None, *, valid_from: dt.date | None = None) -> Scheme:
    """A draft copy of ``scheme`` (items included) with the next version number."""
    top = Scheme.objects.filter(name=scheme.name, org_unit=scheme.org_unit).order_by("-version").first()
    with acting_as(user):
        copy = Scheme.objects.create(
            name=scheme.name,
            org_unit=scheme.org_unit,
            version=(top.version if top else scheme.version) + 1,
            status=SchemeStatus.DRAFT,
            valid_from=valid_from or scheme.valid_from,
            description=scheme.description,
            created_by=user if getattr(user, "pk", None) else None,
        )
        SchemeItem.objects.bulk_create(
            SchemeItem(
                scheme=copy,
                **{
                    f.name: getattr(it, f.name)
                    for f in SchemeItem._meta.concrete_fields
                    if f.name not in ("id", "scheme")
                },
            )
            for it in scheme.items.all()
        )
    return copy


def scheme_for(org_unit: OrgUnit, month: dt.date) -> Scheme | None:
    """The active scheme of the nearest unit (the unit, its ancestors, then the city-wide one) valid in ``month``."""
    candidates = (
        Scheme.objects.filter(status=SchemeStatus.ACTIVE, valid_from__lte=month)
        .exclude(valid_to__lt=month)
        .select_related("org_unit")
    )
    best, depth = None, -1
    for s in candidates:
        if s.org_unit_id is None:
            d = 0
        elif org_unit.path.startswith(s.org_unit.path):
            d = len(s.org_unit.path)
        else:
            continue
        if d > depth or (d == depth and best is not None and s.version > best.version):
            best, depth = s, d
    return best


# ---- the default scheme ---------------------------------------------------------------------------------------------

DESCRIPTION = """默认月度考核方案, 依据 DOMAIN.md 中某县局客户经理 100 分制考核 (营销 50, 服务质量 30)
与县局基础类指标 (20) 编制.

营销 (业绩, 经济类) 50 分:
- 重点品牌增长 15: 重点品牌销量同比, −10% 得 0 分, +5% 满分, 其间线性.
- 预测准确率 15: ≥ 95% 满分, 每低 1 个百分点扣 0.5 分, 每高 1 个百分点加 1 分 (最多 20).
  准确率 = 1 − Σ|实际 − 预测| ÷ Σ实际, 取客户经理所辖零售户当月各周的周预测 (每周取其之前最近一次预测).
- 条均价增长 5: 条均价同比, 0% 得 0 分, +5% 满分.
- 销量目标 5: 实际销量 ÷ 目标 (月计划目标; 无计划时按部门目标分摊,
  按季节 (去年同月占比) 与线路潜力 (近 12 个月占比) 调整), 80% 得 0 分, 100% 满分.
- 销量增长率 5: 销量同比, −5% 得 0 分, +5% 满分.
- 培育品牌 5: 重点品牌上柜率, 30% 得 0 分, 80% 满分.

服务质量 (市场) 30 分, 映射到工作记录:
- 重点品牌覆盖率 5 (经济类): 0% 得 0 分, 100% 满分.
- 动销率 5 (经济类, 品规动销面): 50% 得 0 分, 90% 满分.
- 拜访时长 10: 短于规则最短拜访时长的拜访, 每次扣 1 分 (对应"每天拜访 ≥ 6 小时, 早退/迟到扣 1 分"), 最多扣 10 分.
- 月计划按时 5: 月计划缺交、逾期或逾期未提交, 扣 5 分 (对应"预测迟交扣 0.5 分"的按时要求, 此处按计划整体计).
- 总结按时 5: 周总结、月总结缺交或迟交, 每次扣 1 分, 最多扣 5 分 (对应"零售户销售台账完整, 每缺一月扣 1 分").

县局基础类指标 (市场, 基础类) 20 分:
- 客户拜访 6: 周期内拜访覆盖率, 70% 得 0 分, 100% 满分.
- 信息采集 4: 拜访中更新零售户信息与记录诉求的条数, 阶梯: ≥ 1 得 1 分, ≥ 3 得 2 分, ≥ 6 得 3 分, ≥ 10 得 4 分.
- 专销结合 4: 移交市管员的违规线索, 阶梯: 0 条 2 分, ≥ 1 条 3 分, ≥ 2 条 4 分.
- 市公司抽查 6: 本季度已公布的抽查问题扣分, 按扣分值逐分扣减, 最多扣 6 分.

未映射 (尚无数据来源): 零售户利润分析覆盖 ≥ 30%、因预测失误被投诉. 需要时以"人工评分"项加入新版本.
"""


def _item(position, code, name, group, category, weight, source, metric, rule, rule_params, params=None, **kw):
    return {
        "position": position,
        "code": code,
        "name": name,
        "group": group,
        "category": category,
        "weight": Decimal(str(weight)),
        "source": source,
        "metric": metric,
        "params": params or {},
        "rule": rule,
        "rule_params": rule_params,
        **kw,
    }


R, M = ItemGroup.RESULT, ItemGroup.MARKET
E, B = ItemCategory.ECONOMIC, ItemCategory.BASIC

DEFAULT_ITEMS = [
    _item(
        1,
        "key-brand-growth",
        "重点品牌增长",
        R,
        E,
        15,
        Source.KPI,
        "key_brand_growth",
        Rule.LINEAR,
        {"floor": -10, "target": 5},
    ),
    _item(
        2,
        "forecast-accuracy",
        "预测准确率",
        R,
        E,
        15,
        Source.KPI,
        "forecast_accuracy",
        Rule.TARGET_PER_POINT,
        {"target": 95, "penalty_per_point": "0.5", "bonus_per_point": 1, "cap": 20},
    ),
    _item(
        3,
        "avg-price-growth",
        "条均价增长",
        R,
        E,
        5,
        Source.KPI,
        "avg_price_growth",
        Rule.LINEAR,
        {"floor": 0, "target": 5},
    ),
    _item(
        4,
        "volume-target",
        "销量目标",
        R,
        E,
        5,
        Source.KPI,
        "volume_vs_target",
        Rule.LINEAR,
        {"floor": 80, "target": 100},
        adjust_season=True,
        adjust_potential=True,
    ),
    _item(5, "growth-rate", "销量增长率", R, E, 5, Source.KPI, "growth_rate", Rule.LINEAR, {"floor": -5, "target": 5}),
    _item(
        6,
        "cultivated-brands",
        "培育品牌(重点品牌上柜率)",
        R,
        E,
        5,
        Source.KPI,
        "listing_rate",
        Rule.LINEAR,
        {"floor": 30, "target": 80},
    ),
    _item(
        7,
        "key-brand-coverage",
        "重点品牌覆盖率",
        M,
        E,
        5,
        Source.KPI,
        "coverage",
        Rule.LINEAR,
        {"floor": 0, "target": 100},
    ),
    _item(
        8,
        "dongxiao",
        "动销率(品规动销面)",
        M,
        E,
        5,
        Source.KPI,
        "dongxiao",
        Rule.LINEAR,
        {"floor": 50, "target": 90},
        params={"definition": "sku"},
    ),
    _item(
        9,
        "visit-duration",
        "拜访时长",
        M,
        B,
        10,
        Source.WORK,
        "visit_duration",
        Rule.PER_OCCURRENCE,
        {"deduction": 1, "max_deduction": 10},
    ),
    _item(
        10, "plan-on-time", "月计划按时", M, B, 5, Source.WORK, "plans_on_time", Rule.PER_OCCURRENCE, {"deduction": 5}
    ),
    _item(
        11,
        "summaries-on-time",
        "总结按时",
        M,
        B,
        5,
        Source.WORK,
        "summaries_on_time",
        Rule.PER_OCCURRENCE,
        {"deduction": 1, "max_deduction": 5},
    ),
    _item(
        12,
        "visit-coverage",
        "客户拜访(周期内覆盖)",
        M,
        B,
        6,
        Source.WORK,
        "visit_coverage",
        Rule.LINEAR,
        {"floor": 70, "target": 100},
    ),
    _item(
        13,
        "info-collected",
        "信息采集",
        M,
        B,
        4,
        Source.WORK,
        "info_collected",
        Rule.STEPS,
        {"steps": [[1, 1], [3, 2], [6, 3], [10, 4]]},
    ),
    _item(
        14, "referrals", "专销结合", M, B, 4, Source.WORK, "referrals", Rule.STEPS, {"steps": [[0, 2], [1, 3], [2, 4]]}
    ),
    _item(
        15,
        "spot-checks",
        "市公司抽查",
        M,
        B,
        6,
        Source.SPOTCHECK,
        "spotcheck_findings",
        Rule.PER_OCCURRENCE,
        {"deduction": 1, "max_deduction": 6},
    ),
]


@transaction.atomic
def default_scheme(
    org_unit: OrgUnit | None = None, *, valid_from: dt.date = dt.date(2020, 1, 1), user: Any = None
) -> Scheme:
    """The default scheme (active), created once; an existing one of that name and unit is returned as it is."""
    existing = Scheme.objects.filter(name=DEFAULT_NAME, org_unit=org_unit).order_by("-version").first()
    if existing is not None:
        return existing
    with acting_as(user):
        scheme = Scheme.objects.create(
            name=DEFAULT_NAME,
            org_unit=org_unit,
            valid_from=valid_from,
            description=DESCRIPTION,
            created_by=user if getattr(user, "pk", None) else None,
        )
        SchemeItem.objects.bulk_create(SchemeItem(scheme=scheme, **spec) for spec in DEFAULT_ITEMS)
    return activate(scheme, user)


# ---- editing a draft's items (the scheme pages and the API) ----------------------------------------------------


def is_editable(scheme: Scheme) -> bool:
    """A draft no run has used; anything else is changed through a new version."""
    return scheme.status == SchemeStatus.DRAFT and not Run.objects.filter(scheme=scheme).exists()


def check_item(row: dict[str, Any]) -> dict[str, list[str]]:
    """One item's problems by field, from the scoring services' checks; empty when the row is fine on its own."""
    errors: dict[str, list[str]] = {}
    metric = METRICS.get(row.get("metric") or "")
    if metric is None:
        errors["metric"] = [
            _("Unknown metric %(metric)r; known: %(known)s.")
            % {"metric": row.get("metric"), "known": ", ".join(sorted(METRICS))}
        ]
    rule = row.get("rule") or ""
    if metric is not None and (rule == Rule.MANUAL) != (metric.code == "manual"):
        errors["rule"] = [_("The manual metric goes with the manual rule and only with it.")]
    if not isinstance(row.get("params") or {}, dict):
        errors["params"] = [_("The metric parameters must be an object (a JSON dict).")]
    weight = row.get("weight")
    if weight is None or weight == "":
        errors["weight"] = [_("Give the weight in points.")]
        return errors
    try:
        weight = Decimal(str(weight))
    except (InvalidOperation, ValueError):
        errors["weight"] = [_("The weight must be a number.")]
        return errors
    if weight < 0:
        errors["weight"] = [_("The weight must be 0 or more.")]
        return errors
    try:
        validate_rule(rule, row.get("rule_params") or {}, weight)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    return errors


def _item_from(scheme: Scheme, row: dict[str, Any], position: int, existing: dict[int, SchemeItem]) -> SchemeItem:
    item = existing.get(row.get("id") or 0) or SchemeItem(scheme=scheme)
    item.code = row["code"]
    item.name = row["name"]
    item.group = row["group"]
    item.category = row["category"]
    item.weight = Decimal(str(row["weight"]))
    item.metric = row["metric"]
    item.source = METRICS[row["metric"]].source if row["metric"] in METRICS else row.get("source", "")
    item.params = row.get("params") or {}
    item.rule = row["rule"]
    item.rule_params = row.get("rule_params") or {}
    item.adjust_season = bool(row.get("adjust_season"))
    item.adjust_potential = bool(row.get("adjust_potential"))
    item.position = position
    return item


def save_draft_items(
    scheme: Scheme,
    rows: list[dict[str, Any]],
    user: Any,
    *,
    valid_from: dt.date | None = None,
    description: str | None = None,
) -> Scheme:
    """Replace a draft's items by ``rows`` (``id`` keeps an item, a missing id adds one, an absent item is deleted).

    Refused (ValidationError naming the scheme) when the scheme is active, retired or already used by a run; the rows
    must pass :func:`check_item` each and ``validate_items`` together (weights summing to exactly 100)."""
    with transaction.atomic(), acting_as(user):
        scheme = Scheme.objects.select_for_update().get(pk=scheme.pk)
        if not is_editable(scheme):
            raise ValidationError(
                {
                    "scheme": _(
                        "%(scheme)s is %(status)s or has been used to score a month: it cannot change. "
                        "Make a new version and edit that."
                    )
                    % {"scheme": scheme, "status": scheme.get_status_display()}
                }
            )
        row_errors = []
        for n, row in enumerate(rows, 1):
            for field, messages in check_item(row).items():
                row_errors.extend(
                    _("Item %(n)s (%(code)s), %(field)s: %(msg)s")
                    % {"n": n, "code": row.get("code") or "?", "field": field, "msg": m}
                    for m in messages
                )
        if row_errors:
            raise ValidationError({"items": row_errors})
        existing = {it.pk: it for it in scheme.items.all()}
        unknown = sorted({r["id"] for r in rows if r.get("id")} - set(existing))
        if unknown:
            raise ValidationError(
                {"items": [_("Items %(ids)s do not belong to %(scheme)s.") % {"ids": unknown, "scheme": scheme}]}
            )
        last = max((row.get("position") or 0 for row in rows), default=0)
        items = []
        for row in rows:  # a row without a position goes after the others
            if not row.get("position"):
                last += 1
            items.append(_item_from(scheme, row, row.get("position") or last, existing))
        validate_items(items)
        keep = {it.pk for it in items if it.pk}
        for pk, old in existing.items():
            if pk not in keep:
                old.delete()
        # Codes may move between kept rows (a swap); free them first so the unique (scheme, code) constraint holds.
        moved = [it for it in items if it.pk and existing[it.pk].code != it.code]
        if moved:
            SchemeItem.objects.filter(pk__in=[it.pk for it in moved]).update(
                code=Concat(Value("~"), Cast("pk", output_field=CharField()))
            )
        for it in items:
            it.save()
        changed = []
        if valid_from is not None and valid_from != scheme.valid_from:
            scheme.valid_from = valid_from
            changed.append("valid_from")
        if description is not None and description != scheme.description:
            scheme.description = description
            changed.append("description")
        if changed:
            scheme.save(update_fields=changed)
    return scheme
