"""The 通报 exports: the xlsx holds the ranking exactly; the PDF embeds the vendored CJK font, its text extracts as
Chinese, and two different hanzi render as different glyphs (not boxes); who may export what."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cmdesk.assess.models import (
    ItemCategory,
    ItemGroup,
    ItemStatus,
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
from cmdesk.assess.services import exports
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db

TITLE = "甲县客户服务部2026年10月客户经理月度考核通报"


def make_scheme(tree) -> tuple[Scheme, SchemeItem, SchemeItem]:
    """The department's two-item scheme (created once)."""
    existing = Scheme.objects.filter(org_unit=tree.dept_a).first()
    if existing is not None:
        return existing, existing.items.get(code="volume"), existing.items.get(code="visits")
    scheme = Scheme.objects.create(
        name="客户经理百分制考核", status=SchemeStatus.ACTIVE, valid_from=dt.date(2026, 1, 1), org_unit=tree.dept_a
    )
    volume = SchemeItem.objects.create(
        scheme=scheme, code="volume", name="销量完成率", group=ItemGroup.RESULT, category=ItemCategory.ECONOMIC,
        weight=Decimal("60"), source=Source.KPI, metric="cases", rule=Rule.LINEAR, position=1,
    )  # fmt: skip
    visits = SchemeItem.objects.create(
        scheme=scheme, code="visits", name="拜访覆盖率", group=ItemGroup.MARKET, category=ItemCategory.BASIC,
        weight=Decimal("40"), source=Source.WORK, metric="visit_coverage", rule=Rule.LINEAR, position=2,
    )  # fmt: skip
    return scheme, volume, visits


def make_run(w, month=dt.date(2026, 10, 1), status=RunStatus.PUBLISHED, version=1, points=None, scheme_items=None,
             supersedes=None) -> Run:  # fmt: skip
    """A run for department A with cm1 and cm2 (points: {cm: (volume, visits)})."""
    if scheme_items is None:
        scheme_items = make_scheme(w.tree)
    scheme, volume, visits = scheme_items
    run = Run.objects.create(
        scheme=scheme, org_unit=w.tree.dept_a, month=month, version=version, status=status, supersedes=supersedes,
        scored_at=timezone.now(),
    )  # fmt: skip
    points = points or {w.cm1: (Decimal("55.50"), Decimal("37.00")), w.cm2: (Decimal("50.00"), Decimal("38.00"))}
    ranked = sorted(points.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    for rank, (cm, (pv, pm)) in enumerate(ranked, start=1):
        score = Score.objects.create(run=run, cm=cm, total=pv + pm, rank=rank)
        ScoreItem.objects.create(
            score=score, scheme_item=volume, cm=cm, measured=Decimal("0.925"), target=Decimal("1"), points=pv,
            computed_points=pv, rule_text="完成率 92.5%，目标 100%：60 × 92.5% = 55.50 分", status=ItemStatus.SIGNED,
        )  # fmt: skip
        ScoreItem.objects.create(
            score=score, scheme_item=visits, cm=cm, measured=Decimal("0.9"), target=Decimal("1"), points=pm,
            computed_points=pm, rule_text="拜访覆盖 90%，每少 1 个百分点扣 0.3 分", status=ItemStatus.OPEN,
        )  # fmt: skip
    return run


@pytest.fixture
def w():
    return build_work_world(orders=False)


def xlsx(response):
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))


def test_xlsx_for_the_head_holds_the_ranking_exactly(client, w):
    run = make_run(w)
    client.force_login(w.head.user)
    response = client.get(reverse("assess:run_export_xlsx", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert "attachment" in response["Content-Disposition"]
    assert response.wsgi_request.path == f"/assess/runs/{run.pk}/export.xlsx"
    wb = xlsx(response)
    assert wb.sheetnames == ["排名", "分布", "明细"]
    ranking = wb["排名"]
    assert [[c.value for c in row] for row in ranking.iter_rows()] == [
        ["名次", "客户经理", "工号", "所属部门", "总分", "业绩得分", "市场得分"],
        [1, "张一", "cm1", "甲县一片区", 92.5, 55.5, 37.0],
        [2, "李二", "cm2", "甲县二片区", 88.0, 50.0, 38.0],
    ]
    assert ranking.freeze_panes == "A2"
    assert ranking["E2"].number_format == "0.00"
    items = wb["明细"]
    assert items.max_row == 5
    assert [c.value for c in items[2]][:4] == [1, "张一", "cm1", "销量完成率"]
    assert items["J2"].value == 55.5
    assert items["K2"].value == "完成率 92.5%，目标 100%：60 × 92.5% = 55.50 分"
    assert items.freeze_panes == "A2"
    dist = {row[0].value: row[1].value for row in wb["分布"].iter_rows(min_row=2, max_row=7)}
    assert dist == {"95分及以上": 0, "90–95分": 1, "85–90分": 1, "80–85分": 0, "70–80分": 0, "70分以下": 0}


def test_superseded_items_do_not_show(client, w):
    run = make_run(w)
    old = ScoreItem.objects.get(score__run=run, cm=w.cm1, scheme_item__code="visits")
    new = ScoreItem.objects.create(
        score=old.score, scheme_item=old.scheme_item, cm=w.cm1, version=2, points=Decimal("39"), rule_text="申诉后重算"
    )
    old.superseded_by = new
    old.status = ItemStatus.SUPERSEDED
    old.save()
    report = exports.run_report(w.head.user, run)
    assert [(i.name, i.points, i.version) for i in report.rows[0].items] == [
        ("销量完成率", Decimal("55.50"), 1),
        ("拜访覆盖率", Decimal("39.00"), 2),
    ]


def test_cm_exports_only_its_own_published_score(client, w):
    run = make_run(w)
    client.force_login(w.cm2.user)
    wb = xlsx(client.get(reverse("assess:run_export_xlsx", args=[run.pk])))
    assert [[c.value for c in row] for row in wb["排名"].iter_rows(min_row=2)] == [
        [2, "李二", "cm2", "甲县二片区", 88.0, 50.0, 38.0]
    ]
    assert {r[1].value for r in wb["明细"].iter_rows(min_row=2)} == {"李二"}
    assert wb["分布"]["B3"].value == 1  # the distribution is of the whole run (no names)
    # Not published yet: 404, for the xlsx and the PDF.
    draft = make_run(w, month=dt.date(2026, 11, 1), status=RunStatus.SCORED)
    assert client.get(reverse("assess:run_export_xlsx", args=[draft.pk])).status_code == 404
    assert client.get(reverse("assess:run_export_pdf", args=[draft.pk])).status_code == 404
    # A CM without a score in the run, another branch's CM, an inspector.
    client.force_login(w.cm3.user)
    assert client.get(reverse("assess:run_export_xlsx", args=[run.pk])).status_code == 404
    client.force_login(w.inspector.user)
    assert client.get(reverse("assess:run_export_xlsx", args=[run.pk])).status_code == 403
    assert client.get(reverse("assess:run_export_pdf", args=[run.pk])).status_code == 403
    # The head sees the run under review too.
    client.force_login(w.head.user)
    assert client.get(reverse("assess:run_export_xlsx", args=[draft.pk])).status_code == 200


def test_vendored_font_is_small_and_licensed():
    assert exports.FONT_FILE.exists()
    assert exports.FONT_FILE.stat().st_size < 4_500_000
    licence = exports.FONT_FILE.with_suffix(".LICENSE").read_text()
    assert "Apache-2.0" in licence
    assert "Font exception" in licence


def test_pdf_embeds_the_cjk_font_and_renders_distinct_hanzi(client, w):
    import pymupdf

    run = make_run(w)
    client.force_login(w.head.user)
    response = client.get(reverse("assess:run_export_pdf", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    doc = pymupdf.open(stream=response.content, filetype="pdf")
    page = doc[0]
    text = page.get_text()
    assert TITLE in text  # ToUnicode maps the embedded glyphs back to the characters
    assert "张一" in text and "李二" in text
    assert "拜访覆盖率" in "".join(p.get_text() for p in doc)
    fonts = page.get_fonts()
    embedded = [f for f in fonts if f[3].endswith("WenQuanYiMicroHei")]
    assert embedded, fonts
    assert embedded[0][1] == "ttf"  # an embedded TrueType file, not a reference to a system font
    name, ext, _type, program = doc.extract_font(embedded[0][0])
    assert (ext, len(program) > 10_000) == ("ttf", True)  # the (subset) font program is in the file

    # Two different hanzi of the title render differently (missing glyphs would be identical boxes).
    first = min(page.search_for("客"), key=lambda r: r.y0)
    second = min(page.search_for("报"), key=lambda r: r.y0)
    assert abs(first.y0 - second.y0) < 1  # both in the title line, at the same size (16 pt)
    assert first.height > 14
    matrix = pymupdf.Matrix(4, 4)
    size = pymupdf.Rect(0, 0, first.width, first.height)

    def glyph(rect):
        clip = pymupdf.Rect(rect.x0, rect.y0, rect.x0 + size.width, rect.y0 + size.height)
        return page.get_pixmap(matrix=matrix, clip=clip, colorspace=pymupdf.csGRAY)

    a, b = glyph(first), glyph(second)
    assert (a.width, a.height) == (b.width, b.height)
    assert a.samples != b.samples
    for pix in (a, b):
        dark = sum(1 for v in pix.samples if v < 128)
        assert 0.05 < dark / len(pix.samples) < 0.8  # ink, but not a filled box


def test_pdf_for_a_cm_names_only_the_cm(client, w):
    import pymupdf

    run = make_run(w)
    client.force_login(w.cm1.user)
    response = client.get(reverse("assess:run_export_pdf", args=[run.pk]))
    assert response.status_code == 200
    text = "".join(p.get_text() for p in pymupdf.open(stream=response.content, filetype="pdf"))
    assert "张一" in text
    assert "李二" not in text
    assert "全员 2 人参加排名" in text
