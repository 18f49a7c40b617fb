"""Order-data imports: record, run (CLI in the foreground, uploads in a background thread), report.

The reading, validation and storing are Django-free (:mod:`cmdesk.analytics.ingest`, :mod:`cmdesk.analytics.store`);
this module builds the licence/product lookup from the records, keeps the :class:`OrderImport` row up to date
(status, progress, counts, the first errors), refreshes the KPI aggregates of the changed months afterwards and
translates error codes for people.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import close_old_connections, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cmdesk.analytics.ingest import FIELDS, OPTIONAL_FIELDS, Lookup, ParsedFile, read_orders
from cmdesk.analytics.store import FactStore
from cmdesk.core.audit import acting_as

from .models import ImportMode, ImportStatus, OrderImport

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = (".csv", ".xlsx")
MAX_STORED_ERRORS = 1000
STALE_AFTER = dt.timedelta(minutes=10)
UPLOADS_DIR = "uploads"

ProgressFn = Callable[[int, str], None]

FIELD_LABELS: dict[str, Any] = {
    "order_date": gettext_lazy("order date"),
    "licence": gettext_lazy("licence number"),
    "product_code": gettext_lazy("product code"),
    "demanded": gettext_lazy("demanded"),
    "allotted": gettext_lazy("allotted"),
    "ordered": gettext_lazy("ordered"),
    "supplied": gettext_lazy("supplied"),
    "amount": gettext_lazy("amount"),
    "channel": gettext_lazy("order channel"),
    "order_no": gettext_lazy("order number"),
}
assert set(FIELD_LABELS) == set(FIELDS) | set(OPTIONAL_FIELDS)

# The people's version of cmdesk.analytics.ingest.REASONS (same codes; tests keep the two in step).
REASONS: dict[str, Any] = {
    "unsupported_format": gettext_lazy("Unsupported file type: use CSV (.csv) or Excel (.xlsx)."),
    "unreadable": gettext_lazy("The file cannot be read: %(detail)s"),
    "encoding": gettext_lazy("The text is neither UTF-8 nor GBK/GB18030."),
    "empty_file": gettext_lazy("The file has no header row."),
    "no_rows": gettext_lazy("The file has no data rows."),
    "missing_column": gettext_lazy("Required column missing: %(field)s."),
    "duplicate_column": gettext_lazy("This column means the same as column “%(other)s”."),
    "column_count": gettext_lazy("The row has %(found)s values but the header has %(expected)s columns."),
    "missing": gettext_lazy("A value is required."),
    "bad_date": gettext_lazy("Not a valid date: use YYYY-MM-DD, YYYY/M/D or YYYYMMDD (years 1990–2099)."),
    "unknown_licence": gettext_lazy("No retailer has this licence number."),
    "unknown_product": gettext_lazy("No product has this code."),
    "negative": gettext_lazy("Must not be negative."),
    "not_a_number": gettext_lazy("Not a number."),
    "not_integer": gettext_lazy("Must be a whole number of cartons."),
    "out_of_range": gettext_lazy("The number is too large."),
    "bad_channel": gettext_lazy(
        "Unknown order channel: use online, phone, mobile or other (网上订货, 电话订货, 手机订货, 其他)."
    ),
    "supplied_exceeds_ordered": gettext_lazy("Supplied (%(supplied)s) exceeds ordered (%(ordered)s)."),
    "duplicate_line": gettext_lazy("Duplicate line: same order date, licence and product as row %(other_row)s."),
}


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


def reason_text(error: dict[str, Any]) -> str:
    """An error (as stored in OrderImport.errors) in the active language."""
    template = REASONS.get(error.get("code", ""))
    if template is None:
        return error.get("reason", "")
    params = dict(error.get("params") or {})
    if "field" in params:
        params["field"] = field_label(params["field"])
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return error.get("reason", "")


# --- lookup --------------------------------------------------------------------------------------------------------


def build_lookup() -> Lookup:
    """Licence → retailer id and product code → product id of every record (closed retailers and discontinued
    products included: old orders of theirs still import)."""
    from cmdesk.catalog.models import Product
    from cmdesk.retail.models import Retailer

    retailers = dict(Retailer.objects.order_by().values_list("licence_no", "id"))
    products = dict(Product.objects.order_by().values_list("code", "id"))
    return Lookup.build(retailers, products)


# --- create --------------------------------------------------------------------------------------------------------


def order_import_begin(
    *, actor: Any, file_names: Sequence[str], replace: bool, status: str = ImportStatus.PENDING
) -> OrderImport:
    """The record of a new import (nothing read yet)."""
    with acting_as(actor):
        return OrderImport.objects.create(
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            file_names=list(file_names),
            mode=ImportMode.REPLACE if replace else ImportMode.UPSERT,
            status=status,
            progress_message=_("Waiting to start"),
        )


def upload_dir(order_import: OrderImport) -> Path:
    return Path(settings.CMDESK_DATA_DIR) / UPLOADS_DIR / str(order_import.pk)


def _safe_name(name: str) -> str:
    base = Path(name).name
    return re.sub(r"[^\w.\-]+", "_", base) or "file"


def _save_uploads(order_import: OrderImport, uploads: Iterable[UploadedFile]) -> tuple[list[Path], list[str]]:
    """Copy the uploads out of the request (Django deletes its temporary files afterwards), hashing as we go."""
    folder = upload_dir(order_import)
    folder.mkdir(parents=True, exist_ok=True)
    paths, hashes = [], []
    for n, upload in enumerate(uploads):
        path = folder / f"{n:02d}-{_safe_name(upload.name)}"
        digest = hashlib.sha256()
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                digest.update(chunk)
                out.write(chunk)
        paths.append(path)
        hashes.append(digest.hexdigest())
    return paths, hashes


def order_import_start(
    *, actor: Any, uploads: Sequence[UploadedFile], replace: bool, language: str | None = None
) -> OrderImport:
    """Record an upload and run it in a background thread once the request's transaction has committed."""
    order_import = order_import_begin(actor=actor, file_names=[u.name for u in uploads], replace=replace)
    paths, hashes = _save_uploads(order_import, uploads)
    order_import.file_sha256 = hashes
    order_import.save(update_fields=["file_sha256"])
    pk = order_import.pk
    lang = language or translation.get_language() or settings.LANGUAGE_CODE
    transaction.on_commit(lambda: start_in_background(pk, paths, lang))
    return order_import


def start_in_background(pk: int, paths: list[Path], language: str) -> threading.Thread:
    thread = threading.Thread(target=_run_in_thread, args=(pk, paths, language), name=f"order-import-{pk}", daemon=True)
    thread.start()
    return thread


def run_upload(pk: int, paths: list[Path], language: str) -> OrderImport:
    """Run a recorded upload in ``language`` and delete its copied files afterwards."""
    try:
        with translation.override(language):
            return order_import_run(order_import=OrderImport.objects.get(pk=pk), paths=paths)
    finally:
        if paths:
            shutil.rmtree(paths[0].parent, ignore_errors=True)


def _run_in_thread(pk: int, paths: list[Path], language: str) -> None:
    close_old_connections()
    try:
        run_upload(pk, paths, language)
    except Exception:  # the run records its own failures; this is only for what happens around it
        log.exception("order import %s: background run failed", pk)
    finally:
        connections.close_all()  # this thread's connections: nobody else will close them


# --- run -----------------------------------------------------------------------------------------------------------


def _store_message(message: str) -> str:
    if message.startswith("waiting"):
        return _("Waiting for another import to finish")
    if message.startswith("merging "):
        return _("Storing %(month)s") % {"month": message.removeprefix("merging ")}
    if message == "committing":
        return _("Writing the month files")
    return _("Storing order lines")


def order_import_run(
    *, order_import: OrderImport, paths: Sequence[Path], progress: ProgressFn | None = None
) -> OrderImport:
    """Read, validate and store the files; all or nothing. Records the outcome on ``order_import`` and returns it.

    Never raises for bad files or a failed run: the status says ``failed`` and ``message``/``errors`` say why.
    ``progress(percent, message)`` is told every stage (the CLI prints it; the page polls the row).
    """
    obj = order_import
    last: list[Any] = [None]

    def step(percent: float, message: str) -> None:
        pct = max(0, min(100, int(percent)))
        if last[0] == (pct, message):
            return
        last[0] = (pct, message)
        now = timezone.now()
        OrderImport.objects.filter(pk=obj.pk).update(progress=pct, progress_message=message[:200], updated_at=now)
        obj.progress, obj.progress_message, obj.updated_at = pct, message[:200], now
        if progress is not None:
            progress(pct, message)

    obj.status = ImportStatus.RUNNING
    obj.save(update_fields=["status"])
    try:
        step(1, _("Loading retailers and products"))
        lookup = build_lookup()
        names = list(obj.file_names) or [Path(p).name for p in paths]
        sizes = [max(Path(p).stat().st_size, 1) for p in paths]
        total = sum(sizes) or 1
        parsed: list[ParsedFile] = []
        done = 0
        for path, name, size in zip(paths, names, sizes, strict=True):
            base, span = 2 + 58 * done / total, 58 * size / total
            message = _("Checking %(file)s") % {"file": name}
            step(base, message)
            parsed.append(
                read_orders(
                    Path(path),
                    name=name,
                    lookup=lookup,
                    max_errors=MAX_STORED_ERRORS,
                    progress=lambda pct, _msg, base=base, span=span, message=message: step(
                        base + span * pct / 100, message
                    ),
                )
            )
            done += size
        obj.file_sha256 = [p.sha256 for p in parsed]
        obj.rows_read = sum(p.rows for p in parsed)
        obj.error_count = sum(p.error_count for p in parsed)
        obj.errors = [e.as_dict() for p in parsed for e in p.errors][:MAX_STORED_ERRORS]
        if obj.error_count:
            obj.message = _("Nothing was stored: the files have %(count)d errors.") % {"count": obj.error_count}
            return _finish(obj, ImportStatus.FAILED, step)

        step(60, _("Storing order lines"))
        report = FactStore(settings.CMDESK_DATA_DIR).apply(
            [p.table for p in parsed],
            replace=obj.mode == ImportMode.REPLACE,
            progress=lambda pct, msg: step(60 + 35 * pct / 100, _store_message(msg)),
        )
        obj.inserted, obj.updated = report.inserted, report.updated
        obj.unchanged, obj.deleted = report.unchanged, report.deleted
        obj.months = report.months
        obj.save(update_fields=["file_sha256", "rows_read", "inserted", "updated", "unchanged", "deleted", "months"])
        if report.months:
            step(95, _("Refreshing indicators"))
            try:
                from cmdesk.kpi.refresh import refresh_after_import

                refresh_after_import(report.months)
            except Exception as exc:
                log.exception("order import %s: refreshing the aggregates failed", obj.pk)
                obj.message = _("The order lines were stored, but refreshing the indicators failed: %(error)s") % {
                    "error": exc
                }
        return _finish(obj, ImportStatus.SUCCEEDED, step)
    except Exception as exc:
        log.exception("order import %s failed", obj.pk)
        obj.message = _("The import failed: %(error)s") % {"error": exc}
        return _finish(obj, ImportStatus.FAILED, step)


def _finish(obj: OrderImport, status: str, step: Callable[[float, str], None]) -> OrderImport:
    obj.status = status
    obj.finished_at = timezone.now()
    step(100, _("Finished") if status == ImportStatus.SUCCEEDED else _("Failed"))
    obj.save(
        update_fields=[
            "status",
            "finished_at",
            "message",
            "file_sha256",
            "rows_read",
            "inserted",
            "updated",
            "unchanged",
            "deleted",
            "error_count",
            "errors",
            "months",
            "progress",
            "progress_message",
            "updated_at",
        ]
    )
    return obj


# --- housekeeping and reports --------------------------------------------------------------------------------------


def order_imports_fail_stale(*, now: dt.datetime | None = None) -> int:
    """Mark imports whose process died (pending or running, no progress for 10 minutes) as failed."""
    now = now or timezone.now()
    stale = list(
        OrderImport.objects.filter(
            status__in=[ImportStatus.PENDING, ImportStatus.RUNNING], updated_at__lt=now - STALE_AFTER
        )
    )
    for obj in stale:
        obj.status = ImportStatus.FAILED
        obj.finished_at = now
        obj.message = _("The import stopped without finishing (no progress for 10 minutes). Nothing was stored.")
        obj.save(update_fields=["status", "finished_at", "message"])
        shutil.rmtree(upload_dir(obj), ignore_errors=True)
    return len(stale)


def errors_workbook(order_import: OrderImport) -> bytes:
    """The stored errors as an XLSX workbook (file, row, column, field, value, reason)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Errors")[:31])
    sheet.append([_("File"), _("Row"), _("Column"), _("Field"), _("Value"), _("Reason")])
    for error in order_import.errors:
        sheet.append(
            [
                error.get("file", ""),
                error.get("row") or None,
                error.get("column", ""),
                field_label(error.get("field", "")) if error.get("field") else "",
                error.get("value", ""),
                reason_text(error),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
