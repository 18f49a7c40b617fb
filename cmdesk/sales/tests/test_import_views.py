"""Order-import pages: permissions (403, nothing created), upload, progress polling, errors, xlsx export."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cmdesk.core.tests.factories import StaffFactory, user_without_role
from cmdesk.org.choices import Role
from cmdesk.sales import services
from cmdesk.sales.models import ImportMode, ImportStatus, OrderImport

from .conftest import CODE_X, CODE_Y, LIC_A, LIC_B, csv_bytes, store_snapshot, xlsx_bytes

pytestmark = pytest.mark.django_db

LIST = reverse("sales:orderimport_list")
NEW = reverse("sales:orderimport_add")
GOOD = csv_bytes(
    f"2026-10-03,{LIC_A},{CODE_X},5,4,4,4,340.00,网上订货",
    f"2026-10-03,{LIC_B},{CODE_Y},3,10,3,3,255,电话订货",
)


@pytest.fixture(autouse=True)
def _english(client):
    """Pages in English, so the assertions do not depend on the zh-Hans catalogue."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def inline_runs(monkeypatch):
    """Run the 'background' import in the test's thread: the test database lives in the test's transaction."""
    monkeypatch.setattr(services, "start_in_background", services.run_upload)


def staff(world, role):
    unit = {Role.CLERK: world.tree.dept_a, Role.HEAD: world.tree.dept_a, Role.CENTRE: world.tree.centre}.get(
        role, world.tree.area_a1
    )
    return StaffFactory(role=role, org_unit=unit)


def upload(client, *files, replace=False):
    data = {"files": list(files)}
    if replace:
        data["replace"] = "on"
    return client.post(NEW, data)


@pytest.mark.parametrize(
    ("role", "list_status", "new_status"),
    [
        (Role.CLERK, 200, 200),
        (Role.CENTRE, 200, 200),
        (Role.HEAD, 200, 403),
        (Role.CM, 403, 403),
        (Role.INSPECTOR, 403, 403),
    ],
)
def test_permissions(client, world, role, list_status, new_status):
    client.force_login(staff(world, role).user)
    assert client.get(LIST).status_code == list_status
    assert client.get(NEW).status_code == new_status
    response = upload(client, SimpleUploadedFile("a.csv", GOOD))
    assert response.status_code == (302 if new_status == 200 else 403)
    if new_status == 403:
        assert OrderImport.objects.count() == 0


def test_no_role_and_anonymous(client, world):
    obj = services.order_import_begin(actor=None, file_names=["a.csv"], replace=False)
    assert client.get(LIST).status_code == 302  # to the login page
    client.force_login(user_without_role())
    for url in (LIST, NEW, obj.get_absolute_url(), reverse("sales:orderimport_errors", args=[obj.pk])):
        assert client.get(url).status_code == 403
    assert upload(client, SimpleUploadedFile("a.csv", GOOD)).status_code == 403
    assert OrderImport.objects.count() == 1


def test_upload_runs_the_import_and_shows_the_result(
    client, world, settings, inline_runs, django_capture_on_commit_callbacks
):
    clerk = staff(world, Role.CLERK)
    client.force_login(clerk.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            client,
            SimpleUploadedFile("十月.csv", GOOD),
            SimpleUploadedFile("nov.xlsx", xlsx_bytes([dt.date(2026, 11, 2), LIC_A, CODE_Y, 1, 1, 1, 1, 85, "其他"])),
        )
    obj = OrderImport.objects.get()
    assert response.status_code == 302 and response["Location"] == obj.get_absolute_url()
    assert obj.status == ImportStatus.SUCCEEDED, obj.message
    assert (obj.rows_read, obj.inserted, obj.updated, obj.unchanged, obj.deleted) == (3, 3, 0, 0, 0)
    assert obj.file_names == ["十月.csv", "nov.xlsx"]
    assert obj.created_by == clerk.user and obj.mode == ImportMode.UPSERT
    assert obj.months == ["2026-10", "2026-11"]
    assert len(obj.file_sha256) == 2
    assert not services.upload_dir(obj).exists()  # the copied uploads are gone

    page = client.get(obj.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'hx-trigger="every 1s"' not in html  # finished: no polling
    assert 'data-count="inserted">3<' in html
    assert "十月.csv" in html and 'id="import-errors"' not in html


def test_replace_checkbox(client, world, settings, inline_runs, django_capture_on_commit_callbacks):
    client.force_login(staff(world, Role.CENTRE).user)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, SimpleUploadedFile("a.csv", GOOD))
    corrected = csv_bytes(f"2026-10-03,{LIC_A},{CODE_X},5,4,4,4,340.00,网上订货")
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, SimpleUploadedFile("a.csv", corrected), replace=True)
    obj = OrderImport.objects.latest("id")
    assert obj.mode == ImportMode.REPLACE
    assert (obj.inserted, obj.updated, obj.unchanged, obj.deleted) == (0, 0, 1, 1)


def test_form_errors_create_nothing(client, world):
    client.force_login(staff(world, Role.CLERK).user)
    response = upload(client)
    assert response.status_code == 200
    assert response.context["form"].errors == {"files": ["Choose at least one file."]}
    response = upload(client, SimpleUploadedFile("orders.pdf", b"%PDF"), SimpleUploadedFile("a.csv", GOOD))
    assert response.context["form"].errors == {
        "files": ["Only CSV (.csv) and Excel (.xlsx) files can be imported: orders.pdf."]
    }
    response = upload(client, SimpleUploadedFile("empty.csv", b""))
    assert response.context["form"].errors == {"files": ["The submitted file is empty."]}
    assert OrderImport.objects.count() == 0


def test_bad_file_shows_row_errors_and_exports_them(
    client, world, settings, inline_runs, django_capture_on_commit_callbacks
):
    client.force_login(staff(world, Role.CLERK).user)
    bad = csv_bytes(
        f"2026-10-03,{LIC_A},{CODE_X},5,4,4,4,340.00,网上订货",
        f"2026-13-03,{LIC_A},{CODE_Y},5,4,4,4,340.00,网上订货",
        f"2026-10-03,430100000777,{CODE_X},abc,4,4,4,340.00,网上订货",
    )
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, SimpleUploadedFile("bad.csv", bad))
    obj = OrderImport.objects.get()
    assert obj.status == ImportStatus.FAILED and obj.error_count == 3
    assert store_snapshot(settings.CMDESK_DATA_DIR) == {}

    page = client.get(obj.get_absolute_url())
    errors = [(e["row"], e["column"], e["value"], e["reason_text"]) for e in page.context["errors"]]
    assert errors == [
        (3, "订货日期", "2026-13-03", "Not a valid date: use YYYY-MM-DD, YYYY/M/D or YYYYMMDD (years 1990–2099)."),
        (4, "专卖许可证号", "430100000777", "No retailer has this licence number."),
        (4, "需求数量(条)", "abc", "Not a number."),
    ]
    assert 'id="import-errors"' in page.content.decode()

    export = client.get(reverse("sales:orderimport_errors", args=[obj.pk]))
    assert export.status_code == 200
    assert export["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert export["Content-Disposition"] == f'attachment; filename="order-import-{obj.pk}-errors.xlsx"'
    rows = list(openpyxl.load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("File", "Row", "Column", "Field", "Value", "Reason")
    assert rows[1:] == [
        (
            "bad.csv",
            3,
            "订货日期",
            "order date",
            "2026-13-03",
            "Not a valid date: use YYYY-MM-DD, YYYY/M/D or YYYYMMDD (years 1990–2099).",
        ),
        ("bad.csv", 4, "专卖许可证号", "licence number", "430100000777", "No retailer has this licence number."),
        ("bad.csv", 4, "需求数量(条)", "demanded", "abc", "Not a number."),
    ]


def test_running_import_polls_every_second(client, world):
    client.force_login(staff(world, Role.HEAD).user)
    obj = services.order_import_begin(actor=None, file_names=["a.csv"], replace=False, status=ImportStatus.RUNNING)
    OrderImport.objects.filter(pk=obj.pk).update(progress=42, progress_message="Checking a.csv")
    page = client.get(obj.get_absolute_url())
    html = page.content.decode()
    assert f'hx-get="{obj.get_absolute_url()}" hx-trigger="every 1s" hx-swap="outerHTML"' in html
    assert "<html" in html

    fragment = client.get(obj.get_absolute_url(), HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="import-status"')
    assert 'hx-trigger="every 1s"' in body and 'style="width: 42%"' in body and "Checking a.csv" in body
    assert fragment["Vary"].count("HX-Request") == 1

    OrderImport.objects.filter(pk=obj.pk).update(status=ImportStatus.SUCCEEDED, progress=100)
    body = client.get(obj.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' not in body and 'style="width: 100%"' in body


def test_list_marks_dead_imports_failed_and_head_cannot_add(client, world, django_assert_max_num_queries):
    head = staff(world, Role.HEAD)
    client.force_login(head.user)
    dead = services.order_import_begin(actor=head.user, file_names=["a.csv"], replace=False)
    OrderImport.objects.filter(pk=dead.pk).update(
        status=ImportStatus.RUNNING, updated_at=timezone.now() - dt.timedelta(minutes=15)
    )
    for n in range(3):
        services.order_import_begin(actor=head.user, file_names=[f"{n}.csv"], replace=False)
    response = client.get(LIST)
    assert response.status_code == 200
    assert response.context["add_url"] is None
    dead.refresh_from_db()
    assert dead.status == ImportStatus.FAILED
    assert dead.message == "The import stopped without finishing (no progress for 10 minutes). Nothing was stored."
    assert [row.record.pk for row in response.context["table"].page.object_list] == sorted(
        OrderImport.objects.values_list("pk", flat=True), reverse=True
    )
    with django_assert_max_num_queries(12):
        client.get(LIST)


def test_real_background_thread(transactional_db, client, monkeypatch, settings):
    """The upload's thread runs after commit, writes the facts and closes its connections."""
    from cmdesk.core.tests.factories import ProductFactory, RetailerFactory, RouteFactory, build_org_tree

    tree = build_org_tree()
    route = RouteFactory(org_unit=tree.area_a1)
    RetailerFactory(route=route, licence_no=LIC_A)
    RetailerFactory(route=route, licence_no=LIC_B)
    ProductFactory(code=CODE_X)
    ProductFactory(code=CODE_Y)
    clerk = StaffFactory(role=Role.CLERK, org_unit=tree.dept_a)
    threads = []
    original = services.start_in_background
    monkeypatch.setattr(services, "start_in_background", lambda *a: threads.append(original(*a)))
    client.force_login(clerk.user)
    upload(client, SimpleUploadedFile("a.csv", GOOD))
    assert len(threads) == 1
    threads[0].join(60)
    obj = OrderImport.objects.get()
    assert obj.status == ImportStatus.SUCCEEDED, obj.message
    assert (obj.inserted, obj.progress) == (2, 100)
    assert list(store_snapshot(settings.CMDESK_DATA_DIR)) == ["month=2026-10/part-0.parquet"]
    assert not services.upload_dir(obj).exists()
