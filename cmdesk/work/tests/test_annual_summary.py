"""The annual summary (年度总结) of seed 000's customer manager, drafted through the Summary service.

cmdesk.analytics.tests.seed000 writes the CM's two years of orders and its dimension snapshots (231 retailers of
cm_id 1) into the data directory. Here the CM is a Django staff record with that id, created before the snapshots are
written (so the KPI layer does not find them stale and re-export the empty retailer table), and the annual summary
is drafted with ``summary_draft(cm, "year", …)``: the text must state the seed's figures as its report prints them.
141 of 231 online is 61.04%, printed 61.0% (the seed's "61.1%" is a slip; see test_seed000.py).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cmdesk.analytics.tests.seed000 import CM_ID, build_seed000
from cmdesk.core.tests.factories import StaffFactory, build_org_tree
from cmdesk.kpi.refresh import engine
from cmdesk.org.choices import Role
from cmdesk.work.models import Summary
from cmdesk.work.services import summaries as svc

pytestmark = pytest.mark.django_db

YEAR = 2026


@pytest.fixture
def seed_cm(settings):
    tree = build_org_tree()
    cm = StaffFactory(id=CM_ID, role=Role.CM, org_unit=tree.area_a1, employee_no="cm000", name="陈立新")
    build_seed000(settings.CMDESK_DATA_DIR, year=YEAR)
    engine().refresh_aggregates()
    return cm


def test_annual_summary_states_seed000(seed_cm):
    s = svc.summary_draft(seed_cm, "year", dt.date(YEAR, 6, 30), seed_cm.user)
    assert (s.kind, s.period_start, s.period_end) == ("year", dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))
    assert s.title == "陈立新2026年年度工作总结"
    assert timezone.localtime(s.due).date() == dt.date(YEAR + 1, 1, 15)
    assert list(s.sections) == ["review", "sales", "problems", "next_year"]

    f = s.figures
    assert (f["retailers"], f["online_retailers"], f"{f['online_share'] * 100:.1f}") == (231, 141, "61.0")
    assert (f"{f['cases']:.2f}", f"{f['change']:+.2f}", f"{f['yoy'] * 100:+.2f}") == ("977.87", "-30.26", "-3.00")
    assert (f"{f['provincial_cases']:.2f}", f"{f['provincial_yoy'] * 100:+.2f}") == ("850.13", "+10.18")
    assert (f"{f['avg_price']:.2f}", f"{f['avg_price_ly']:.2f}") == ("85.66", "73.93")
    assert f"{f['avg_price_yoy'] * 100:+.2f}" == "+15.87"
    assert [(c["name"], f"{c['cases']:.2f}", f"{c['yoy'] * 100:+.2f}") for c in f["classes"]] == [
        ("一类", "75.47", "+49.18"),
        ("二类", "236.39", "+21.35"),
        ("三类", "211.98", "-1.95"),
        ("四类", "392.78", "-7.49"),
        ("五类", "61.22", "-49.78"),
    ]

    review = s.sections["review"]
    assert "2026年共服务零售客户231户，其中网上订货客户141户，占总客户数的61.0%" in review
    sales = s.sections["sales"]
    assert sales.startswith("（1）主要指标情况：全年共销售卷烟977.87箱")
    assert "全年共销售卷烟977.87箱，同比减少30.26箱，降幅3.00%" in sales
    assert "其中省产烟850.13箱，同比增长10.18%" in sales
    assert "条均价85.66元，去年同期73.93元，同比提高15.87%" in sales
    for text in (
        "一类烟75.47箱，同比增长49.18%",
        "二类烟236.39箱，同比增长21.35%",
        "三类烟211.98箱，同比下降1.95%",
        "四类烟392.78箱，同比下降7.49%",
        "五类烟61.22箱，同比下降49.78%",
    ):
        assert text in sales
    assert "其中五类烟降幅最大（49.78%" in sales
    problems = s.sections["problems"]
    assert "五类烟销量61.22箱，同比下降49.78%" in problems and "网上订货客户占比61.0%" in problems
    assert "建议：" in problems
    assert "来年力争销售卷烟977.87箱以上，省产烟不低于850.13箱，条均价保持在85.66元以上" in s.sections["next_year"]
    assert s.flags == []
    rows = dict(svc.figure_rows(s))
    assert (rows["销量(箱)"], rows["销量同比"], rows["五类烟(箱)"]) == ("977.87", "-3.00%", "61.22（-49.78%）")
    assert Summary.objects.get(pk=s.pk).figures["cases"] == f["cases"]
