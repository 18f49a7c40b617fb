"""The import service: files in, Parquet facts and an OrderImport record out, all or nothing, idempotent."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import openpyxl
import pytest
from auditlog.models import LogEntry
from django.utils import timezone, translation

from cmdesk.analytics import ingest
from cmdesk.analytics.layout import agg_file
from cmdesk.analytics.store import FactStore
from cmdesk.core.tests.factories import UserFactory
from cmdesk.sales import services
from cmdesk.sales.models import ImportMode, ImportStatus, OrderImport

from .conftest import CODE_X, CODE_Y, LIC_A, LIC_B, LIC_C, store_snapshot, write_csv, xlsx_bytes

pytestmark = pytest.mark.django_db

GOOD_ROWS = (
    f"2026-10-03,{LIC_A},{CODE_X},5,4,4,4,340.00,网上订货",
    f"2026/10/3,{LIC_B},{CODE_Y},3,10,3,3,255,电话订货",
    f'20261010,{LIC_A},{CODE_Y},12,10,11,11,"1,100.50",手机订货',
    f"2026-11-02,{LIC_C},{CODE_X},1,1,1,1,85,其他",
)


def run(paths, *, replace=False, actor=None, progress=None):
    with translation.override("en"):  # messages are written in the active language
        obj = services.order_import_begin(actor=actor, file_names=[p.name for p in paths], replace=replace)
        return services.order_import_run(order_import=obj, paths=paths, progress=progress)


def stored(settings, month):
    table = FactStore(settings.CMDESK_DATA_DIR).read_month(month)
    return [
        (
            r["order_date"].isoformat(),
            r["licence"],
            r["product_code"],
            r["ordered"],
            r["supplied"],
            r["amount"],
            r["channel"],
        )
        for r in table.to_pylist()
    ]


def counts(obj):
    return (obj.rows_read, obj.inserted, obj.updated, obj.unchanged, obj.deleted, obj.error_count)


def error_tuples(obj):
    return [(e["file"], e["row"], e["column"], e["field"], e["value"], e["code"]) for e in obj.errors]


def test_gbk_csv_with_chinese_headers(world, settings, tmp_path):
    user = UserFactory(username="neiqin")
    path = write_csv(tmp_path, "十月订单.csv", *GOOD_ROWS)
    steps = []
    obj = run([path], actor=user, progress=lambda pct, msg: steps.append(pct))
    obj.refresh_from_db()
    assert obj.status == ImportStatus.SUCCEEDED, obj.message
    assert counts(obj) == (4, 4, 0, 0, 0, 0)
    assert obj.months == ["2026-10", "2026-11"]
    assert obj.file_names == ["十月订单.csv"]
    assert obj.file_sha256 == [hashlib.sha256(path.read_bytes()).hexdigest()]
    assert obj.mode == ImportMode.UPSERT
    assert obj.created_by == user
    assert (obj.progress, obj.errors, obj.message) == (100, [], "")
    assert obj.finished_at is not None and obj.finished_at >= obj.started_at
    assert steps == sorted(steps) and steps[0] == 1 and steps[-1] == 100
    assert stored(settings, "2026-10") == [
        ("2026-10-03", LIC_A, CODE_X, 4, 4, 340.0, "online"),
        ("2026-10-03", LIC_B, CODE_Y, 3, 3, 255.0, "phone"),
        ("2026-10-10", LIC_A, CODE_Y, 11, 11, 1100.5, "mobile"),
    ]
    assert stored(settings, "2026-11") == [("2026-11-02", LIC_C, CODE_X, 1, 1, 85.0, "other")]
    table = FactStore(settings.CMDESK_DATA_DIR).read_month("2026-10")
    assert table.column("retailer_id").to_pylist() == [world.a.pk, world.b.pk, world.a.pk]
    assert table.column("product_id").to_pylist() == [world.x.pk, world.y.pk, world.y.pk]
    # the KPI aggregates of both months were refreshed after the import
    assert agg_file(settings.CMDESK_DATA_DIR, "rpm", "2026-10").is_file()
    assert agg_file(settings.CMDESK_DATA_DIR, "rpm", "2026-11").is_file()
    # audited: who started it, and its outcome
    entries = LogEntry.objects.get_for_object(obj).order_by("id")
    assert entries.first().actor == user
    assert "errors" not in (entries.last().changes_dict or {})


def test_xlsx(world, settings, tmp_path):
    path = tmp_path / "orders.xlsx"
    path.write_bytes(
        xlsx_bytes(
            [dt.datetime(2026, 10, 3), int(LIC_A), int(CODE_X), 5, 4, 4, 4, 340, "网上订货"],
            [dt.date(2026, 10, 4), LIC_B, CODE_Y, 2, 2, 2, 1, 42.5, "phone"],
        )
    )
    obj = run([path])
    assert obj.status == ImportStatus.SUCCEEDED, obj.message
    assert counts(obj) == (2, 2, 0, 0, 0, 0)
    assert stored(settings, "2026-10") == [
        ("2026-10-03", LIC_A, CODE_X, 4, 4, 340.0, "online"),
        ("2026-10-04", LIC_B, CODE_Y, 2, 1, 42.5, "phone"),
    ]


def test_bad_rows_are_reported_and_nothing_is_written(world, settings, tmp_path):
    run([write_csv(tmp_path, "good.csv", *GOOD_ROWS)])
    before = store_snapshot(settings.CMDESK_DATA_DIR)
    bad = write_csv(
        tmp_path,
        "bad.csv",
        f"2026-10-05,{LIC_A},{CODE_X},1,1,1,1,85,online",  # 2: a good line (must not be written either)
        f"2026-10-32,{LIC_A},{CODE_X},1,1,1,1,85,online",  # 3: bad date
        f"2026-10-05,430100009999,{CODE_X},1,1,1,1,85,online",  # 4: unknown licence
        f"2026-10-05,{LIC_B},{CODE_X},-3,1,1,1,85,online",  # 5: negative quantity
        f"2026-10-05,{LIC_C},{CODE_Y},1,1,一,1,85,online",  # 6: text in a number column
    )
    obj = run([bad])
    obj.refresh_from_db()
    assert obj.status == ImportStatus.FAILED
    assert counts(obj) == (5, 0, 0, 0, 0, 4)
    assert error_tuples(obj) == [
        ("bad.csv", 3, "订货日期", "order_date", "2026-10-32", "bad_date"),
        ("bad.csv", 4, "专卖许可证号", "licence", "430100009999", "unknown_licence"),
        ("bad.csv", 5, "需求数量(条)", "demanded", "-3", "negative"),
        ("bad.csv", 6, "订货数量(条)", "ordered", "一", "not_a_number"),
    ]
    with translation.override("en"):
        assert [services.reason_text(e) for e in obj.errors] == [
            "Not a valid date: use YYYY-MM-DD, YYYY/M/D or YYYYMMDD (years 1990–2099).",
            "No retailer has this licence number.",
            "Must not be negative.",
            "Not a number.",
        ]
        assert obj.message == "Nothing was stored: the files have 4 errors."
    assert obj.months == []
    assert store_snapshot(settings.CMDESK_DATA_DIR) == before


def test_one_bad_file_stops_the_whole_import(world, settings, tmp_path):
    good = write_csv(tmp_path, "a.csv", *GOOD_ROWS)
    bad = write_csv(tmp_path, "b.csv", f"2026-12-01,{LIC_A},{CODE_X},1,1,1,2,85,online")
    obj = run([good, bad])
    assert obj.status == ImportStatus.FAILED
    assert counts(obj) == (5, 0, 0, 0, 0, 1)
    assert error_tuples(obj) == [("b.csv", 2, "供货数量(条)", "supplied", "2", "supplied_exceeds_ordered")]
    assert store_snapshot(settings.CMDESK_DATA_DIR) == {}


def test_importing_the_same_file_twice_changes_nothing(world, settings, tmp_path):
    path = write_csv(tmp_path, "oct.csv", *GOOD_ROWS)
    first = run([path])
    assert counts(first) == (4, 4, 0, 0, 0, 0)
    before = store_snapshot(settings.CMDESK_DATA_DIR)
    second = run([path])
    assert second.status == ImportStatus.SUCCEEDED
    assert counts(second) == (4, 0, 0, 4, 0, 0)
    assert second.months == []
    assert store_snapshot(settings.CMDESK_DATA_DIR) == before


def test_overlapping_files(world, settings, tmp_path):
    first = write_csv(
        tmp_path,
        "w1.csv",
        f"2026-10-01,{LIC_A},{CODE_X},1,1,1,1,10,online",
        f"2026-10-02,{LIC_A},{CODE_X},2,2,2,2,20,online",
    )
    second = write_csv(
        tmp_path,
        "w2.csv",
        f"2026-10-02,{LIC_A},{CODE_X},2,2,2,2,20,online",  # the same line again
        f"2026-10-03,{LIC_A},{CODE_X},3,3,3,3,30,online",
    )
    assert counts(run([first])) == (2, 2, 0, 0, 0, 0)
    assert counts(run([second])) == (2, 1, 0, 1, 0, 0)
    assert counts(run([first, second])) == (4, 0, 0, 3, 0, 0)  # 3 distinct lines
    assert [row[0] for row in stored(settings, "2026-10")] == ["2026-10-01", "2026-10-02", "2026-10-03"]


def test_replace_removes_lines_that_vanished_from_a_corrected_file(world, settings, tmp_path):
    run(
        [
            write_csv(
                tmp_path,
                "original.csv",
                f"2026-10-01,{LIC_A},{CODE_X},1,1,1,1,10,online",
                f"2026-10-01,{LIC_B},{CODE_X},1,1,1,1,10,online",
                f"2026-10-02,{LIC_A},{CODE_Y},1,1,1,1,10,online",
                f"2026-10-09,{LIC_A},{CODE_Y},1,1,1,1,10,online",
            )
        ]
    )
    corrected = write_csv(
        tmp_path,
        "corrected.csv",
        f"2026-10-01,{LIC_A},{CODE_X},1,1,1,1,10,online",
        f"2026-10-02,{LIC_A},{CODE_Y},2,2,2,2,20,online",
    )
    # without --replace the vanished line stays
    assert counts(run([corrected])) == (2, 0, 1, 1, 0, 0)
    assert len(stored(settings, "2026-10")) == 4
    obj = run([corrected], replace=True)
    assert obj.mode == ImportMode.REPLACE
    assert counts(obj) == (2, 0, 0, 2, 1, 0)
    assert obj.months == ["2026-10"]
    assert stored(settings, "2026-10") == [
        ("2026-10-01", LIC_A, CODE_X, 1, 1, 10.0, "online"),
        ("2026-10-02", LIC_A, CODE_Y, 2, 2, 20.0, "online"),
        ("2026-10-09", LIC_A, CODE_Y, 1, 1, 10.0, "online"),  # after the corrected period: kept
    ]


def test_an_unexpected_failure_is_recorded(world, settings, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.FactStore, "apply", boom)
    obj = run([write_csv(tmp_path, "a.csv", *GOOD_ROWS)])
    obj.refresh_from_db()
    assert obj.status == ImportStatus.FAILED
    with translation.override("en"):
        assert obj.message == "The import failed: disk full"
    assert (obj.progress, obj.rows_read) == (100, 4)


def test_stale_running_imports_are_marked_failed(world):
    now = timezone.now()
    stale = services.order_import_begin(actor=None, file_names=["a.csv"], replace=False, status=ImportStatus.RUNNING)
    fresh = services.order_import_begin(actor=None, file_names=["b.csv"], replace=False, status=ImportStatus.RUNNING)
    done = services.order_import_begin(actor=None, file_names=["c.csv"], replace=False, status=ImportStatus.SUCCEEDED)
    OrderImport.objects.filter(pk__in=[stale.pk, done.pk]).update(updated_at=now - dt.timedelta(minutes=11))
    OrderImport.objects.filter(pk=fresh.pk).update(updated_at=now - dt.timedelta(minutes=9))
    with translation.override("en"):
        assert services.order_imports_fail_stale(now=now) == 1
    statuses = dict(OrderImport.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: ImportStatus.FAILED, fresh.pk: ImportStatus.RUNNING, done.pk: ImportStatus.SUCCEEDED}


def test_errors_workbook(world, tmp_path):
    obj = run([write_csv(tmp_path, "bad.csv", f"2026-10-05,{LIC_A},{CODE_X},1,1,1,x,85,online")])
    with translation.override("en"):
        data = services.errors_workbook(obj)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [
        ["File", "Row", "Column", "Field", "Value", "Reason"],
        ["bad.csv", 2, "供货数量(条)", "supplied", "x", "Not a number."],
    ]


def test_every_error_code_has_a_translatable_reason():
    assert set(services.REASONS) == set(ingest.REASONS)
    with translation.override("en"):
        for code, english in ingest.REASONS.items():
            params = {"detail": "d", "field": "amount", "other": "o", "found": 2, "expected": 9}
            params |= {"supplied": 2, "ordered": 1, "other_row": 7}
            assert services.reason_text({"code": code, "params": params}) == english.format(**params)
