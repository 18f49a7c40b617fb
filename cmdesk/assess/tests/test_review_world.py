"""A small scored month built directly with the models, for the review, page and API tests.

w, r = build_review_world()   # w: build_work_world(orders=False); r.run (dept A, cm1 88, cm2 72), r.run_b (cm3)
r.items[cm1.pk]["volume"]     # a ScoreItem
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from cmdesk.assess.models import (
    ItemCategory,
    ItemGroup,
    Rule,
    Run,
    RunStatus,
    Scheme,
    SchemeItem,
    SchemeStatus,
    Score,
    ScoreItem,
    Source,
)
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db

MONTH = dt.date(2026, 10, 1)
ITEMS = [  # code, name, weight, source, rule
    ("volume", "销量完成率", "40", Source.KPI, Rule.LINEAR),
    ("forecast", "需求预测准确率", "30", Source.KPI, Rule.TARGET_PER_POINT),
    ("visits", "拜访覆盖率", "30", Source.WORK, Rule.LINEAR),
]
POINTS = {  # employee_no → points per item code (cm1 88, cm2 72, cm3 55)
    "cm1": {"volume": "35", "forecast": "28", "visits": "25"},
    "cm2": {"volume": "30", "forecast": "20", "visits": "22"},
    "cm3": {"volume": "20", "forecast": "15", "visits": "20"},
}


@dataclass
class ReviewWorld:
    scheme: Scheme
    run: Run
    run_b: Run
    scores: dict = field(default_factory=dict)  # staff pk → Score
    items: dict = field(default_factory=dict)  # staff pk → {code: ScoreItem}


def _score(run: Run, cm, scheme_items: dict, world: ReviewWorld) -> Score:
    total = sum(Decimal(p) for p in POINTS[cm.employee_no].values())
    score = Score.objects.create(run=run, cm=cm, total=total)
    world.scores[cm.pk] = score
    world.items[cm.pk] = {}
    for code, points in POINTS[cm.employee_no].items():
        world.items[cm.pk][code] = ScoreItem.objects.create(
            score=score,
            scheme_item=scheme_items[code],
            cm=cm,
            measured=Decimal("0.93"),
            target=Decimal("0.95"),
            adjusted_target=Decimal("0.90") if code == "volume" else None,
            adjustment={"text": "去年同期销量低于全市平均，目标下调5%", "season": "0.95"} if code == "volume" else {},
            computed_points=Decimal(points),
            points=Decimal(points),
            rule_text=f"{scheme_items[code].name}：实际 93%，目标 95%，得 {points} 分",
            evidence=[
                {"kind": "kpi", "label": "10月销量", "url": f"/kpi/explore/?cm={cm.pk}&month=2026-10", "value": "93%"},
                {"kind": "visit", "label": "拜访记录", "url": f"/work/visits/?cm={cm.pk}", "value": 42},
            ],
        )
    return score


def rerank_all(run: Run) -> None:
    for rank, score in enumerate(run.scores.order_by("-total"), start=1):
        score.rank = rank
        score.save(update_fields=["rank"])


def build_review_world(status: str = RunStatus.SCORED):
    w = build_work_world(orders=False)
    scheme = Scheme.objects.create(
        name="客户经理月度考核", org_unit=None, status=SchemeStatus.ACTIVE, valid_from=dt.date(2026, 1, 1)
    )
    scheme_items = {}
    for position, (code, name, weight, source, rule) in enumerate(ITEMS):
        scheme_items[code] = SchemeItem.objects.create(
            scheme=scheme,
            code=code,
            name=name,
            group=ItemGroup.RESULT,
            category=ItemCategory.ECONOMIC,
            weight=Decimal(weight),
            source=source,
            metric=code,
            rule=rule,
            position=position,
        )
    run = Run.objects.create(scheme=scheme, org_unit=w.tree.dept_a, month=MONTH, status=status)
    run_b = Run.objects.create(scheme=scheme, org_unit=w.tree.dept_b, month=MONTH, status=status)
    r = ReviewWorld(scheme, run, run_b)
    _score(run, w.cm1, scheme_items, r)
    _score(run, w.cm2, scheme_items, r)
    _score(run_b, w.cm3, scheme_items, r)
    rerank_all(run)
    rerank_all(run_b)
    return w, r


def test_review_world_is_consistent():
    w, r = build_review_world()
    assert list(r.run.scores.order_by("rank").values_list("cm__employee_no", "total", "rank")) == [
        ("cm1", Decimal("88.00"), 1),
        ("cm2", Decimal("72.00"), 2),
    ]
    assert r.run_b.scores.get().total == Decimal("55.00")
    assert ScoreItem.objects.filter(score__run=r.run).count() == 6
