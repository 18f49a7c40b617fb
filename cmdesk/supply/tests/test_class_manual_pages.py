"""Manual class levels on the pages: the counts on the scheme page, the retailer list (filters, scope), setting one
level (the code changes, a bad level is a 400 and changes nothing), the xlsx template and upload (all or nothing,
errors by row and column, out-of-scope rows), the audit rows, and who may do what."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from cmdesk.core.tests.factories import PASSWORD, RetailerFactory, RouteFactory, StaffFactory, build_org_tree
from cmdesk.org.choices import Role
from cmdesk.retail.choices import MarketType
from cmdesk.supply.models import ClassScheme, RetailerClass
from cmdesk.supply.services import classes as svc

pytestmark = pytest.mark.django_db

DISPLAY = {
    "code": "display",
    "name": "陈列",
    "kind": "local",
    "source": "manual",
    "levels": [{"code": "G", "label": "好"}, {"code": "P", "label": "差"}],
    "default": "P",
}


@dataclass
class World:
    scheme: ClassScheme
    centre: object
    head: object
    cm1: object
    inspector: object
    a1: list  # cm1's route R1 (branch A): urban groceries at tier 10 → CZ3, then the display level
    a2: list  # route R2 (branch A), rural → XZ3
    b1: list  # route R3 (branch B)
    r1: object


@pytest.fixture
def world() -> World:
    tree = build_org_tree()
    centre = StaffFactory(role=Role.CENTRE, org_unit=tree.centre)
    head = StaffFactory(role=Role.HEAD, org_unit=tree.dept_a)
    # heads (and clerks) set manual levels of their own subtree's retailers and no others (the role table)
    assert head.user.has_perm("supply.change_retailerclass")
    cm1 = StaffFactory(role=Role.CM, org_unit=tree.area_a1)
    inspector = StaffFactory(role=Role.INSPECTOR, org_unit=tree.dept_a)
    r1 = RouteFactory(org_unit=tree.area_a1, cm=cm1, code="R1")
    r2 = RouteFactory(org_unit=tree.area_a2, code="R2")
    r3 = RouteFactory(org_unit=tree.area_b1, code="R3")
    a1 = [RetailerFactory(route=r1, licence_no=f"43010000010{i}", shop_name=f"一号店{i}") for i in range(3)]
    a2 = [
        RetailerFactory(route=r2, licence_no=f"43010000020{i}", market_type=MarketType.RURAL, shop_name=f"二号店{i}")
        for i in range(2)
    ]
    b1 = [RetailerFactory(route=r3, licence_no="430100000300", shop_name="乙县店")]
    scheme = svc.save_scheme(ClassScheme(name="陈列", dimensions=[*svc.preset_2008(), DISPLAY]))
    svc.classify(scheme)
    return World(scheme, centre, head, cm1, inspector, a1, a2, b1, r1)


def login(staff) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=staff.user.username, password=PASSWORD)
    return client


def rc(retailer, scheme) -> RetailerClass:
    return RetailerClass.objects.get(scheme=scheme, retailer=retailer)


def codes(w: World) -> dict[str, tuple[str, dict]]:
    return {
        r["retailer__licence_no"]: (r["code"], r["manual"])
        for r in RetailerClass.objects.filter(scheme=w.scheme).values("retailer__licence_no", "code", "manual")
    }


def xlsx(rows: list[list]) -> SimpleUploadedFile:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return SimpleUploadedFile("levels.xlsx", buffer.getvalue())


def manual_url(w: World) -> str:
    return reverse("supply:class_manual", args=[w.scheme.pk])


def upload_url(w: World) -> str:
    return reverse("supply:class_manual_upload", args=[w.scheme.pk])


HEADER = ["Licence number", "Retailer", "陈列 (display)"]


def test_scheme_page_counts_set_and_unset_levels(world):
    svc.set_manual_level(rc(world.a1[0], world.scheme), "display", "G")
    page = login(world.centre).get(reverse("supply:class_scheme_detail", args=[world.scheme.pk]))
    assert page.status_code == 200
    [display] = page.context["manual"]
    assert (display["dim"]["code"], display["set"], display["unset"], display["default"]) == ("display", 1, 5, "P")
    assert [(lv["code"], lv["count"]) for lv in display["levels"]] == [("G", 1), ("P", 0)]
    assert f'href="{manual_url(world)}"' in page.content.decode()
    # the head counts its subtree only
    head_page = login(world.head).get(reverse("supply:class_scheme_detail", args=[world.scheme.pk]))
    assert [(m["set"], m["unset"]) for m in head_page.context["manual"]] == [(1, 4)]


def test_centre_sets_one_level_and_the_code_changes(world):
    target = rc(world.a1[1], world.scheme)
    assert (target.code, target.manual) == ("CZ3P", {})
    client = login(world.centre)
    response = client.post(
        manual_url(world),
        {"retailer_class": target.pk, "dimension": "display", "level": "G", "next": manual_url(world) + "?route=1"},
    )
    assert response.status_code == 302 and response["Location"] == manual_url(world) + "?route=1"
    target.refresh_from_db()
    assert (target.code, target.manual, target.levels["display"]) == ("CZ3G", {"display": "G"}, "G")
    # nobody else changed
    assert {lic: c for lic, (c, _m) in codes(world).items() if lic != world.a1[1].licence_no} == {
        "430100000100": "CZ3P",
        "430100000102": "CZ3P",
        "430100000200": "XZ3P",
        "430100000201": "XZ3P",
        "430100000300": "CZ3P",
    }
    [entry] = LogEntry.objects.get_for_object(target)
    assert entry.actor_id == world.centre.user_id
    assert entry.changes_dict["code"] == ["CZ3P", "CZ3G"]
    # an outside next= is not followed
    other = client.post(
        manual_url(world),
        {"retailer_class": target.pk, "dimension": "display", "level": "P", "next": "https://evil.example/"},
    )
    assert other["Location"] == manual_url(world)
    page = client.get(manual_url(world))
    assert [h["code_after"] for h in page.context["history"]] == ["CZ3P", "CZ3G"]


def test_a_level_not_of_the_dimension_is_a_400_and_changes_nothing(world):
    target = rc(world.a1[0], world.scheme)
    with translation.override("en"):
        response = login(world.centre).post(
            manual_url(world), {"retailer_class": target.pk, "dimension": "display", "level": "X"}
        )
    assert response.status_code == 400
    assert response.context["form"].errors == {"level": ["X is not a level of 陈列."]}
    assert response.context["failed"].pk == target.pk
    assert "X is not a level of 陈列." in response.content.decode()
    target.refresh_from_db()
    assert (target.code, target.manual) == ("CZ3P", {})
    assert not LogEntry.objects.get_for_object(target).exists()
    # a computed dimension cannot be set by hand either
    with translation.override("en"):
        computed = login(world.centre).post(
            manual_url(world), {"retailer_class": target.pk, "dimension": "format", "level": "Z"}
        )
    assert computed.status_code == 400
    assert computed.context["form"].errors == {"dimension": ["format is not a manual dimension of 陈列."]}


def test_cm_reads_its_retailers_but_may_not_set_a_level(world):
    client = login(world.cm1)
    page = client.get(manual_url(world))
    assert page.status_code == 200
    assert [r.retailer_id for r in page.context["page"]] == [s.pk for s in world.a1]
    assert not page.context["can_change"] and 'name="retailer_class"' not in page.content.decode()
    target = rc(world.a1[0], world.scheme)
    assert (
        client.post(manual_url(world), {"retailer_class": target.pk, "dimension": "display", "level": "G"}).status_code
        == 403
    )
    assert client.get(upload_url(world)).status_code == 403
    assert client.post(upload_url(world), {"file": xlsx([HEADER, ["430100000100", "", "G"]])}).status_code == 403
    target.refresh_from_db()
    assert (target.code, target.manual) == ("CZ3P", {})
    template = client.get(reverse("supply:class_manual_template", args=[world.scheme.pk]))
    assert [
        r[0] for r in load_workbook(io.BytesIO(template.content)).active.iter_rows(min_row=2, values_only=True)
    ] == [s.licence_no for s in world.a1]


def test_inspector_is_refused(world):
    client = login(world.inspector)
    for url in (manual_url(world), upload_url(world), reverse("supply:class_manual_template", args=[world.scheme.pk])):
        assert client.get(url).status_code == 403, url


def test_head_sees_and_sets_only_its_subtree(world):
    client = login(world.head)
    page = client.get(manual_url(world))
    assert {r.retailer_id for r in page.context["page"]} == {s.pk for s in world.a1 + world.a2}
    assert page.context["can_change"]
    outside = rc(world.b1[0], world.scheme)
    response = client.post(manual_url(world), {"retailer_class": outside.pk, "dimension": "display", "level": "G"})
    assert response.status_code == 404
    outside.refresh_from_db()
    assert (outside.code, outside.manual) == ("CZ3P", {})
    inside = rc(world.a2[0], world.scheme)
    assert (
        client.post(manual_url(world), {"retailer_class": inside.pk, "dimension": "display", "level": "G"}).status_code
        == 302
    )
    inside.refresh_from_db()
    assert inside.code == "XZ3G"


def test_list_filters(world):
    svc.set_manual_level(rc(world.a1[0], world.scheme), "display", "G")
    svc.set_manual_level(rc(world.a2[0], world.scheme), "display", "P")
    client = login(world.centre)

    def licences(**params) -> list[str]:
        page = client.get(manual_url(world), params)
        assert page.status_code == 200
        return [r.retailer.licence_no for r in page.context["page"]]

    assert licences(level="display:G") == ["430100000100"]
    assert licences(level="display:P") == ["430100000200"]
    assert licences(level="display:") == ["430100000101", "430100000102", "430100000201", "430100000300"]
    assert licences(route=world.r1.pk) == ["430100000100", "430100000101", "430100000102"]
    assert licences(org_unit=world.b1[0].route.org_unit_id) == ["430100000300"]
    assert licences(q="0201") == ["430100000201"]
    assert licences(q="乙县") == ["430100000300"]
    assert licences(route=world.r1.pk, level="display:") == ["430100000101", "430100000102"]


def test_xlsx_round_trip_changes_exactly_the_filled_rows(world):
    svc.set_manual_level(rc(world.a1[2], world.scheme), "display", "G")
    client = login(world.centre)
    with translation.override("en"):
        template = client.get(reverse("supply:class_manual_template", args=[world.scheme.pk]))
    assert template.status_code == 200
    wb = load_workbook(io.BytesIO(template.content))
    sheet = wb.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Licence number", "Retailer", "陈列 (display)")
    assert rows[1:] == [
        ("430100000100", "一号店0", None),
        ("430100000101", "一号店1", None),
        ("430100000102", "一号店2", "G"),
        ("430100000200", "二号店0", None),
        ("430100000201", "二号店1", None),
        ("430100000300", "乙县店", None),
    ]
    assert list(wb.worksheets[1].iter_rows(min_row=2, values_only=True)) == [
        ("陈列 (display)", "G", "好", None),
        ("陈列 (display)", "P", "差", "✓"),
    ]
    # fill: two levels set, one row set to the level it already has, the rest left blank
    sheet = load_workbook(io.BytesIO(template.content)).worksheets[0]
    sheet["C2"] = "G"
    sheet["C5"] = "p"  # the code in another case is accepted
    sheet["C4"] = "G"  # unchanged
    buffer = io.BytesIO()
    sheet.parent.save(buffer)
    before = codes(world)
    with translation.override("en"):
        response = client.post(
            upload_url(world), {"file": SimpleUploadedFile("filled.xlsx", buffer.getvalue())}, follow=True
        )
    assert response.redirect_chain == [(manual_url(world), 302)]
    assert [str(m) for m in response.context["messages"]] == ["2 retailers changed (6 rows read)."]
    after = codes(world)
    assert {lic for lic in after if after[lic] != before[lic]} == {"430100000100", "430100000200"}
    assert after["430100000100"] == ("CZ3G", {"display": "G"})
    assert after["430100000200"] == ("XZ3P", {"display": "P"})
    assert after["430100000102"] == ("CZ3G", {"display": "G"})
    # one audit row per changed retailer, by the uploader
    entries = LogEntry.objects.filter(content_type__model="retailerclass", actor=world.centre.user)
    assert sorted((e.object_id, e.changes_dict["manual"][1], e.changes_dict.get("code")) for e in entries) == sorted(
        [
            (rc(world.a1[0], world.scheme).pk, '{"display": "G"}', ["CZ3P", "CZ3G"]),
            (rc(world.a2[0], world.scheme).pk, '{"display": "P"}', None),  # the default made explicit: same code
        ]
    )
    assert {e.object_repr for e in entries} == {"430100000100: CZ3G", "430100000200: XZ3P"}
    assert len({e.cid for e in entries}) == 1 and entries[0].cid  # the upload's request id
    assert LogEntry.objects.filter(content_type__model="retailerclass").count() == 3  # + the setup's set_manual_level
    history = client.get(upload_url(world)).context["history"]
    assert [(h["shop"], h["manual"], h["code_after"]) for h in history] == [
        ("二号店0", "display=P", None),
        ("一号店0", "display=G", "CZ3G"),
        ("一号店2", "display=G", "CZ3G"),
    ]


def test_an_unknown_licence_is_reported_by_row_and_nothing_changes(world):
    before = codes(world)
    file = xlsx([HEADER, ["430100000100", "一号店0", "G"], ["439999999999", "无此店", "G"], ["430100000101", "", "P"]])
    with translation.override("en"):
        response = login(world.centre).post(upload_url(world), {"file": file})
    assert response.status_code == 400
    assert response.context["problems"] == [
        "row 3, column A: no retailer in your scope has the licence number 439999999999."
    ]
    assert "row 3, column A" in response.content.decode()
    assert codes(world) == before
    assert not LogEntry.objects.filter(content_type__model="retailerclass").exists()


def test_an_out_of_scope_licence_is_an_error_row_for_a_head(world):
    before = codes(world)
    file = xlsx([HEADER, ["430100000200", "二号店0", "G"], ["430100000300", "乙县店", "G"]])
    with translation.override("en"):
        response = login(world.head).post(upload_url(world), {"file": file})
    assert response.status_code == 400
    assert response.context["problems"] == [
        "row 3, column A: no retailer in your scope has the licence number 430100000300."
    ]
    assert codes(world) == before
    # without the bad row the head's upload goes through
    with translation.override("en"):
        ok = login(world.head).post(upload_url(world), {"file": xlsx([HEADER, ["430100000200", "二号店0", "G"]])})
    assert ok.status_code == 302
    assert codes(world)["430100000200"] == ("XZ3G", {"display": "G"})


def test_every_problem_is_reported_together(world):
    scheme = world.scheme
    rows = [
        ["licence", "name", "陈列 (display)", "format", "colour"],
        ["430100000100", "", "X", None, None],
        ["", "", "G"],
        ["430100000101", "", "G", None, None, "oops"],
        ["430100000101", "", "P"],
        [None, None, None],
        [430100000102.0, "", "好"],  # a number licence and a level's label are read
    ]
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.set_manual_levels(scheme, rows, world.centre.user)
    assert exc.value.messages == [
        "row 1, column D: 业态 is not a manual dimension: its levels are computed.",
        "row 1, column E: colour is not a dimension of this scheme.",
        "row 2, column C: X is not a level of 陈列 (levels: G, P).",
        "row 3, column A: the licence number is missing.",
        "row 4, column F: the column has no dimension in its header.",
        "row 5, column A: the licence number 430100000101 is already on row 4.",
    ]
    assert not LogEntry.objects.filter(content_type__model="retailerclass").exists()
    # the same rows without the problems
    result = svc.set_manual_levels(
        scheme, [rows[0][:3], ["430100000101", "", "G"], [430100000102.0, "", "好"]], world.centre.user
    )
    assert result == {"rows": 2, "changed": 2}
    assert codes(world)["430100000102"] == ("CZ3G", {"display": "G"})


def test_a_file_that_is_not_xlsx_is_refused(world):
    client = login(world.centre)
    with translation.override("en"):
        wrong = client.post(upload_url(world), {"file": SimpleUploadedFile("levels.csv", b"a,b\n")})
        broken = client.post(upload_url(world), {"file": SimpleUploadedFile("levels.xlsx", b"not a zip")})
    assert wrong.status_code == 400
    assert wrong.context["form"].errors == {"file": ["Only an Excel .xlsx file can be read."]}
    assert broken.status_code == 400
    assert broken.context["problems"] == ["The file could not be read as an .xlsx workbook."]


def test_a_scheme_without_manual_dimensions(world):
    plain = svc.create_preset("2008", "2008")
    client = login(world.centre)
    page = client.get(reverse("supply:class_manual", args=[plain.pk]))
    assert page.status_code == 200 and page.context["dims"] == []
    assert client.get(reverse("supply:class_manual_template", args=[plain.pk])).status_code == 404
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.set_manual_levels(plain, [HEADER], world.centre.user)
    assert exc.value.messages == ["2008 has no manual dimension."]


def test_the_list_page_does_not_query_per_row(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    svc.set_manual_level(rc(world.a1[1], world.scheme), "display", "G")
    client = login(world.centre)
    client.get(manual_url(world))  # warm the session and the content types
    with CaptureQueriesContext(connection) as small:
        assert client.get(manual_url(world)).status_code == 200
    for i in range(8):
        RetailerFactory(route=world.r1, licence_no=f"43010000019{i}")
    svc.classify(world.scheme)
    svc.set_manual_level(rc(world.a1[0], world.scheme), "display", "G")
    with CaptureQueriesContext(connection) as large:
        page = client.get(manual_url(world))
    assert page.context["page"].paginator.count == 14
    assert len(large.captured_queries) == len(small.captured_queries)
