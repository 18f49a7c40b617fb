"""The order fact store: upsert, replace, idempotence, atomic commit, recovery and locking (no Django)."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cmdesk.analytics import store as store_module
from cmdesk.analytics.layout import ORDER_SCHEMA, order_months
from cmdesk.analytics.store import JOURNAL_FILE, STAGING_DIR, FactStore


def lines(*specs):
    """ORDER_SCHEMA table from (date, retailer, product, ordered[, amount]) tuples; other values follow from them."""
    rows = []
    for spec in specs:
        day, retailer, product, ordered = spec[:4]
        amount = spec[4] if len(spec) > 4 else ordered * 10.0
        rows.append(
            {
                "order_date": day,
                "order_id": retailer * 100_000 + (day - dt.date(1970, 1, 1)).days,
                "retailer_id": retailer,
                "licence": f"4301{retailer:08d}",
                "product_id": product,
                "product_code": f"69{product:011d}",
                "demanded": ordered,
                "allotted": ordered + 1,
                "ordered": ordered,
                "supplied": ordered,
                "amount": amount,
                "channel": "online",
            }
        )
    return pa.Table.from_pylist(rows, schema=ORDER_SCHEMA)


def keys(table):
    return [(r["order_date"].isoformat(), r["retailer_id"], r["product_id"], r["ordered"]) for r in table.to_pylist()]


def counts(report):
    return (report.inserted, report.updated, report.unchanged, report.deleted)


def snapshot(data_dir):
    """Bytes and modification times of every stored order file."""
    out = {}
    for path in sorted((data_dir / "orders").rglob("*.parquet")):
        out[str(path.relative_to(data_dir))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


D = dt.date


@pytest.fixture
def store(tmp_path):
    return FactStore(tmp_path / "data")


def test_upsert_then_same_lines_again_changes_nothing(store):
    table = lines((D(2026, 10, 3), 1, 10, 4), (D(2026, 10, 3), 2, 10, 3), (D(2026, 11, 2), 1, 11, 5))
    first = store.apply([table])
    assert counts(first) == (3, 0, 0, 0)
    assert first.months == ["2026-10", "2026-11"]
    assert order_months(store.data_dir) == ["2026-10", "2026-11"]
    before = snapshot(store.data_dir)

    second = store.apply([table])
    assert counts(second) == (0, 0, 3, 0)
    assert second.months == []
    assert snapshot(store.data_dir) == before  # byte-identical, not even rewritten
    assert sorted(p.name for p in store.data_dir.iterdir()) == [".orders.lock", "orders"]


def test_files_are_sorted_zstd_and_dictionary_encoded(store):
    store.apply([lines((D(2026, 10, 9), 2, 10, 1), (D(2026, 10, 3), 5, 11, 1), (D(2026, 10, 3), 1, 12, 1))])
    path = store.month_path("2026-10")
    assert keys(pq.read_table(path)) == [("2026-10-03", 1, 12, 1), ("2026-10-03", 5, 11, 1), ("2026-10-09", 2, 10, 1)]
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    group = meta.row_group(0)
    assert group.column(0).compression == "ZSTD"
    assert "RLE_DICTIONARY" in group.column(names.index("licence")).encodings
    assert [(c.column_index, c.descending) for c in group.sorting_columns] == [(0, False), (2, False), (4, False)]
    assert store.read_month("2026-10").schema == ORDER_SCHEMA


def test_upsert_updates_changed_values_and_keeps_other_lines(store):
    store.apply([lines((D(2026, 10, 3), 1, 10, 4), (D(2026, 10, 3), 2, 10, 3), (D(2026, 10, 4), 1, 10, 2))])
    report = store.apply([lines((D(2026, 10, 3), 1, 10, 6), (D(2026, 10, 3), 2, 10, 3), (D(2026, 10, 5), 3, 10, 1))])
    assert counts(report) == (1, 1, 1, 0)
    assert report.months == ["2026-10"]
    assert keys(store.read_month("2026-10")) == [
        ("2026-10-03", 1, 10, 6),
        ("2026-10-03", 2, 10, 3),
        ("2026-10-04", 1, 10, 2),
        ("2026-10-05", 3, 10, 1),
    ]


def test_an_amount_change_alone_is_an_update(store):
    store.apply([lines((D(2026, 10, 3), 1, 10, 4, 40.0))])
    report = store.apply([lines((D(2026, 10, 3), 1, 10, 4, 40.5))])
    assert counts(report) == (0, 1, 0, 0)
    assert store.read_month("2026-10").column("amount").to_pylist() == [40.5]


def test_overlapping_files_in_one_import_and_across_imports(store):
    a = lines((D(2026, 10, 1), 1, 10, 1), (D(2026, 10, 2), 1, 10, 2), (D(2026, 10, 3), 1, 10, 3))
    b = lines((D(2026, 10, 3), 1, 10, 9), (D(2026, 10, 4), 1, 10, 4))  # overlaps a on 10-03: b wins
    report = store.apply([a, b])
    assert counts(report) == (4, 0, 0, 0)
    assert keys(store.read_month("2026-10")) == [
        ("2026-10-01", 1, 10, 1),
        ("2026-10-02", 1, 10, 2),
        ("2026-10-03", 1, 10, 9),
        ("2026-10-04", 1, 10, 4),
    ]
    # a later, overlapping file on its own: the overlap is unchanged, the rest new
    c = lines((D(2026, 10, 4), 1, 10, 4), (D(2026, 10, 5), 1, 10, 5))
    assert counts(store.apply([c])) == (1, 0, 1, 0)
    # all three again: b's 10-03 wins over a's as before, so every line is unchanged
    assert counts(store.apply([a, b, c])) == (0, 0, 5, 0)
    # a alone again: its 10-03 value replaces b's
    assert counts(store.apply([a])) == (0, 1, 2, 0)
    assert keys(store.read_month("2026-10"))[2] == ("2026-10-03", 1, 10, 3)


def test_replace_removes_lines_that_vanished_from_the_corrected_file(store):
    original = lines(
        (D(2026, 9, 30), 1, 10, 1),  # outside the corrected period: stays
        (D(2026, 10, 1), 1, 10, 1),
        (D(2026, 10, 1), 2, 10, 1),  # vanishes
        (D(2026, 10, 2), 1, 11, 1),
        (D(2026, 10, 3), 3, 10, 1),  # vanishes
        (D(2026, 10, 4), 1, 10, 1),  # after the corrected period: stays
    )
    store.apply([original])
    corrected = lines((D(2026, 10, 1), 1, 10, 1), (D(2026, 10, 2), 1, 11, 2), (D(2026, 10, 3), 4, 12, 1))
    report = store.apply([corrected], replace=True)
    assert counts(report) == (1, 1, 1, 2)
    assert report.months == ["2026-10"]
    assert keys(store.read_month("2026-09")) == [("2026-09-30", 1, 10, 1)]
    assert keys(store.read_month("2026-10")) == [
        ("2026-10-01", 1, 10, 1),
        ("2026-10-02", 1, 11, 2),
        ("2026-10-03", 4, 12, 1),
        ("2026-10-04", 1, 10, 1),
    ]
    # the same corrected file again: nothing to do
    before = snapshot(store.data_dir)
    assert counts(store.apply([corrected], replace=True)) == (0, 0, 3, 0)
    assert snapshot(store.data_dir) == before


def test_replace_across_a_month_boundary_and_without_replace_nothing_is_deleted(store):
    store.apply([lines((D(2026, 9, 29), 1, 10, 1), (D(2026, 10, 2), 1, 10, 1), (D(2026, 10, 2), 2, 10, 1))])
    upsert = store.apply([lines((D(2026, 9, 30), 1, 10, 1), (D(2026, 10, 1), 1, 10, 1))])
    assert counts(upsert) == (2, 0, 0, 0)
    report = store.apply([lines((D(2026, 9, 29), 1, 10, 1), (D(2026, 10, 2), 2, 10, 1))], replace=True)
    assert counts(report) == (0, 0, 2, 3)
    assert report.months == ["2026-09", "2026-10"]
    assert keys(store.read_month("2026-09")) == [("2026-09-29", 1, 10, 1)]
    assert keys(store.read_month("2026-10")) == [("2026-10-02", 2, 10, 1)]


def test_replace_with_several_files_applies_them_in_order(store):
    first = lines((D(2026, 10, 1), 1, 10, 1), (D(2026, 10, 2), 1, 10, 1), (D(2026, 10, 3), 1, 10, 1))
    second = lines((D(2026, 10, 2), 2, 10, 1), (D(2026, 10, 3), 1, 10, 5))  # replaces 10-02..10-03
    report = store.apply([first, second], replace=True)
    assert counts(report) == (3, 0, 0, 0)
    assert keys(store.read_month("2026-10")) == [
        ("2026-10-01", 1, 10, 1),
        ("2026-10-02", 2, 10, 1),
        ("2026-10-03", 1, 10, 5),
    ]


def test_empty_input_changes_nothing(store):
    assert counts(store.apply([])) == (0, 0, 0, 0)
    assert counts(store.apply([ORDER_SCHEMA.empty_table()], replace=True)) == (0, 0, 0, 0)
    assert order_months(store.data_dir) == []


def test_a_crash_after_the_journal_is_rolled_forward(store, monkeypatch):
    store.apply([lines((D(2026, 9, 1), 1, 10, 1), (D(2026, 10, 1), 1, 10, 1))])
    real_replace = os.replace
    moved = []

    def crashing_replace(src, dst):
        if str(dst).endswith("part-0.parquet"):
            if moved:
                raise OSError("power cut")
            moved.append(dst)
        return real_replace(src, dst)

    monkeypatch.setattr(store_module.os, "replace", crashing_replace)
    with pytest.raises(OSError, match="power cut"):
        store.apply([lines((D(2026, 9, 1), 1, 10, 7), (D(2026, 10, 1), 1, 10, 7))])
    monkeypatch.setattr(store_module.os, "replace", real_replace)

    journal = json.loads((store.data_dir / JOURNAL_FILE).read_text())
    assert [final for _, final in journal] == [
        "orders/month=2026-09/part-0.parquet",
        "orders/month=2026-10/part-0.parquet",
    ]
    # half applied: September is new, October still old
    assert keys(store.read_month("2026-09")) == [("2026-09-01", 1, 10, 7)]
    assert keys(store.read_month("2026-10")) == [("2026-10-01", 1, 10, 1)]

    assert FactStore(store.data_dir).recover() == 1
    assert keys(store.read_month("2026-10")) == [("2026-10-01", 1, 10, 7)]
    assert not (store.data_dir / JOURNAL_FILE).exists()
    assert not (store.data_dir / STAGING_DIR).exists()


def test_a_crash_before_the_journal_leaves_the_old_files(store, monkeypatch):
    store.apply([lines((D(2026, 10, 1), 1, 10, 1))])
    before = snapshot(store.data_dir)

    def crash(moves):
        raise OSError("killed while staging")

    monkeypatch.setattr(store, "_commit", crash)
    with pytest.raises(OSError):
        store.apply([lines((D(2026, 10, 1), 1, 10, 2))])
    assert (store.data_dir / STAGING_DIR).exists()  # the staged file is left behind
    assert snapshot(store.data_dir) == before

    monkeypatch.undo()
    report = store.apply([lines((D(2026, 10, 1), 1, 10, 1))])  # apply recovers first: drops the orphan staging
    assert counts(report) == (0, 0, 1, 0)
    assert not (store.data_dir / STAGING_DIR).exists()
    assert snapshot(store.data_dir) == before


def test_a_second_import_waits_for_the_lock(store):
    events = []
    result = {}

    def second():
        result["report"] = store.apply(
            [lines((D(2026, 10, 1), 1, 10, 1))], progress=lambda pct, msg: events.append(msg)
        )

    with store.locked():
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 5
        while "waiting for another import to finish" not in events and time.monotonic() < deadline:
            time.sleep(0.01)
        assert events[:1] == ["waiting for another import to finish"]
        assert "report" not in result
        assert order_months(store.data_dir) == []
    thread.join(5)
    assert counts(result["report"]) == (1, 0, 0, 0)
