"""The order fact store: month files under ``DATA_DIR/orders`` (see :mod:`cmdesk.analytics.layout`), written
atomically and idempotently. No Django imports.

Natural key and modes
---------------------
A line's key is ``(order_date, retailer_id, product_id)``; every month file holds each key at most once and is
sorted by it (the same order, encoding and compression as the demo generator writes). :meth:`FactStore.apply`
takes the validated tables of one import, in order:

* upsert (default): a line whose key is stored replaces the stored values; new keys are inserted; nothing else
  changes. Applying the same lines twice changes nothing (the second time every line is "unchanged" and no file is
  rewritten, so the files stay byte-identical).
* replace: each table is the complete record of the dates from its first to its last date: stored lines of those
  dates that are not in the table are deleted (a corrected re-export of a period replaces it).

Tables are applied as if one after the other: for a key in several tables the last one wins, and with replace a
later table's date range also removes an earlier table's lines that it does not repeat. The report counts
against what was stored before: inserted, updated (same key, different values), unchanged (same key and values),
deleted; ``months`` lists the months whose file changed.

Atomicity and restarts
----------------------
Only one writer at a time: an exclusive ``fcntl.flock`` on ``DATA_DIR/.orders.lock`` (a second import waits).
Each changed month is written in full to ``DATA_DIR/.staging/<batch>/`` and fsynced; then a journal
(``DATA_DIR/.orders-journal.json``, a JSON list of [staged, final] paths relative to the data directory) is written
atomically, and each staged file is moved over its final path with ``os.replace``. :meth:`FactStore.recover`, run
at the start of every apply, rolls a leftover journal forward (the staged files are complete, so finishing the
moves is always right) and removes staging directories without a journal (an import that died before its journal:
the stored files were never touched). A reader sees each month file either old or new, never half-written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .ingest import key_order
from .layout import ORDER_SCHEMA, month_label, order_file

LOCK_FILE = ".orders.lock"
JOURNAL_FILE = ".orders-journal.json"
STAGING_DIR = ".staging"
KEY = ("order_date", "retailer_id", "product_id")
VALUE_COLUMNS = tuple(f.name for f in ORDER_SCHEMA if f.name not in KEY)
DICTIONARY_COLUMNS = ["licence", "product_code", "channel"]

ProgressFn = Callable[[int, str], None]


@dataclass
class ApplyReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    lines: int = 0  # distinct incoming lines applied
    months: list[str] = field(default_factory=list)  # months whose file was (re)written

    def as_dict(self) -> dict:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "lines": self.lines,
            "months": list(self.months),
        }


def write_month_file(table: pa.Table, path: Path) -> None:
    """Write one month's sorted lines like the demo generator does (zstd, dictionary-encoded strings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        compression="zstd",
        use_dictionary=DICTIONARY_COLUMNS,
        write_statistics=["order_date", "order_id", "retailer_id", "product_id"],
        store_schema=False,
        sorting_columns=[pq.SortingColumn(0), pq.SortingColumn(2), pq.SortingColumn(4)],
    )
    _fsync_file(path)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems refuse fsync on directories
        _fsync_file(path)


def _days(table: pa.Table) -> np.ndarray:
    return table.column("order_date").combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)


def _ints(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).combine_chunks().to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _equal_keys(days: np.ndarray, rid: np.ndarray, pid: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For sorted positions i, whether position i+1 has the same key."""
    d, r, p = days[order], rid[order], pid[order]
    return (d[1:] == d[:-1]) & (r[1:] == r[:-1]) & (p[1:] == p[:-1])


class FactStore:
    """The month files of order lines under one data directory."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)

    # --- paths, reading ------------------------------------------------------------------------------------------

    @property
    def journal_path(self) -> Path:
        return self.data_dir / JOURNAL_FILE

    @property
    def staging_root(self) -> Path:
        return self.data_dir / STAGING_DIR

    def month_path(self, month: str) -> Path:
        return order_file(self.data_dir, month)

    def read_month(self, month: str) -> pa.Table:
        path = self.month_path(month)
        if not path.is_file():
            return ORDER_SCHEMA.empty_table()
        return pq.read_table(path).cast(ORDER_SCHEMA)

    # --- locking and recovery ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, on_wait: Callable[[], None] | None = None, heartbeat: float = 10.0) -> Iterator[None]:
        """Hold the store's exclusive lock. While another process holds it, wait, calling ``on_wait`` at once and
        then every ``heartbeat`` seconds (a waiting import keeps showing progress, so it is not taken for dead)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / LOCK_FILE, "a+") as handle:
            next_beat = 0.0
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    now = time.monotonic()
                    if on_wait is not None and now >= next_beat:
                        on_wait()
                        next_beat = now + heartbeat
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def recover(self) -> int:
        """Finish an interrupted apply (under the lock). Returns the number of files moved into place."""
        with self.locked():
            return self._recover_locked()

    def _recover_locked(self) -> int:
        moved = 0
        if self.journal_path.is_file():
            try:
                moves = json.loads(self.journal_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                moves = None  # cannot happen with the atomic journal write; never guess
            if moves is not None:
                moved = self._roll_forward(moves)
            self.journal_path.unlink()
            _fsync_dir(self.data_dir)
        tmp = self.journal_path.with_name(JOURNAL_FILE + ".tmp")
        if tmp.exists():
            tmp.unlink()
        if self.staging_root.exists():
            shutil.rmtree(self.staging_root)
        return moved

    def _roll_forward(self, moves: list[list[str]]) -> int:
        moved = 0
        for staged_rel, final_rel in moves:
            staged, final = self.data_dir / staged_rel, self.data_dir / final_rel
            if staged.exists():  # else: already moved before the interruption
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)
                _fsync_dir(final.parent)
                moved += 1
        return moved

    def _commit(self, moves: list[tuple[Path, Path]]) -> None:
        rel = [[str(s.relative_to(self.data_dir)), str(f.relative_to(self.data_dir))] for s, f in moves]
        tmp = self.journal_path.with_name(JOURNAL_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(rel, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.journal_path)
        _fsync_dir(self.data_dir)
        self._roll_forward(rel)
        self.journal_path.unlink()
        _fsync_dir(self.data_dir)

    # --- apply ---------------------------------------------------------------------------------------------------

    def apply(
        self,
        tables: Sequence[pa.Table],
        *,
        replace: bool = False,
        progress: ProgressFn | None = None,
    ) -> ApplyReport:
        """Store validated ORDER_SCHEMA tables (one per file, in order) all or nothing; see the module docstring."""
        report_progress = progress or (lambda pct, msg: None)
        incoming, ranges = _combine(tables, replace)
        report = ApplyReport(lines=incoming.num_rows)
        inc_days = _days(incoming)
        months = {month_label(dt.date(1970, 1, 1) + dt.timedelta(days=int(d))) for d in np.unique(inc_days)}
        for first, last in ranges:
            months |= _months_between(first, last)
        covered = _covered_days(ranges)
        inc_month = _month_index(inc_days)

        def waiting() -> None:
            report_progress(0, "waiting for another import to finish")

        with self.locked(on_wait=waiting):
            self._recover_locked()
            batch = self.staging_root / uuid.uuid4().hex
            moves: list[tuple[Path, Path]] = []
            ordered_months = sorted(months)
            for k, month in enumerate(ordered_months):
                report_progress(int(90 * k / max(len(ordered_months), 1)), f"merging {month}")
                m_idx = int(month[:4]) * 12 + int(month[5:7]) - 1
                part = incoming.filter(pa.array(inc_month == m_idx)) if len(months) > 1 else incoming
                merged, counts = _merge(self.read_month(month), part, covered)
                report.inserted += counts[0]
                report.updated += counts[1]
                report.unchanged += counts[2]
                report.deleted += counts[3]
                if counts[0] or counts[1] or counts[3]:
                    staged = batch / f"month={month}" / "part-0.parquet"
                    write_month_file(merged, staged)
                    moves.append((staged, self.month_path(month)))
                    report.months.append(month)
            report_progress(92, "committing")
            if moves:
                self._commit(moves)
            if self.staging_root.exists():
                shutil.rmtree(self.staging_root)
        report_progress(100, "stored")
        return report


def _months_between(first: dt.date, last: dt.date) -> set[str]:
    out = set()
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.add(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _month_index(days: np.ndarray) -> np.ndarray:
    """year * 12 + month - 1 of each day number."""
    ym = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return ym + 1970 * 12


def _covered_days(ranges: list[tuple[dt.date, dt.date]]) -> list[tuple[int, int]]:
    epoch = dt.date(1970, 1, 1)
    return [((a - epoch).days, (b - epoch).days) for a, b in ranges]


def _in_ranges(days: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros(len(days), bool)
    for a, b in ranges:
        mask |= (days >= a) & (days <= b)
    return mask


def _combine(tables: Sequence[pa.Table], replace: bool) -> tuple[pa.Table, list[tuple[dt.date, dt.date]]]:
    """One table of distinct keys: the last table wins a key; with replace, a line of an earlier table that a later
    table's date range covers survives only if that later table repeats its key. Also the replace date ranges."""
    tables = [t.cast(ORDER_SCHEMA) for t in tables if t.num_rows]
    ranges: list[tuple[dt.date, dt.date]] = []
    if replace:
        ranges = [(pc.min(t.column("order_date")).as_py(), pc.max(t.column("order_date")).as_py()) for t in tables]
    if not tables:
        return ORDER_SCHEMA.empty_table(), ranges
    if len(tables) == 1:
        return tables[0].combine_chunks(), ranges
    table = pa.concat_tables(tables).combine_chunks()
    source = np.concatenate([np.full(t.num_rows, i, np.int64) for i, t in enumerate(tables)])
    days, rid, pid = _days(table), _ints(table, "retailer_id"), _ints(table, "product_id")
    order = key_order(days, rid, pid)  # stable: within a key, lines keep table order
    same_next = _equal_keys(days, rid, pid, order)
    last_of_key = np.r_[~same_next, True]
    keep = order[last_of_key]
    if replace:
        # the last table covering the line's date must be the table the line comes from
        cover = np.full(len(keep), -1, np.int64)
        kd = days[keep]
        for i, (a, b) in enumerate(_covered_days(ranges)):
            cover[(kd >= a) & (kd <= b)] = i
        keep = keep[cover == source[keep]]
    return table.take(pa.array(np.sort(keep))), ranges


def _merge(old: pa.Table, inc: pa.Table, covered: list[tuple[int, int]]) -> tuple[pa.Table, tuple[int, int, int, int]]:
    """The month's new content, sorted, and (inserted, updated, unchanged, deleted) against ``old``."""
    nd, ni = old.num_rows, inc.num_rows
    both = pa.concat_tables([old, inc]).combine_chunks() if ni else old
    days, rid, pid = _days(both), _ints(both, "retailer_id"), _ints(both, "product_id")
    order = key_order(days, rid, pid)  # stable: an old line sorts right before the incoming line with its key
    if len(order) == 0:
        return both, (0, 0, 0, 0)
    same_next = _equal_keys(days, rid, pid, order)
    is_old = order < nd
    pair = np.flatnonzero(same_next & is_old[:-1] & ~is_old[1:])  # sorted positions of matched old lines
    old_idx = order[pair]
    inc_idx = order[pair + 1]
    matched = len(pair)
    unchanged = 0
    if matched:
        same = np.ones(matched, bool)
        a, b = pa.array(old_idx), pa.array(inc_idx)
        for name in VALUE_COLUMNS:
            column = both.column(name)
            same &= pc.fill_null(pc.equal(column.take(a), column.take(b)), False).to_numpy(zero_copy_only=False)
        unchanged = int(same.sum())
    drop = np.zeros(len(order), bool)
    drop[pair] = True
    deleted = 0
    if covered and nd:
        # old lines of a replaced date that no incoming line repeats
        gone = is_old & ~drop & _in_ranges(days[order], covered)
        deleted = int(gone.sum())
        drop |= gone
    inserted = ni - matched
    updated = matched - unchanged
    result = both.take(pa.array(order[~drop])) if (inserted or updated or deleted) else old
    return result, (inserted, updated, unchanged, deleted)
