"""`cmdesk import-orders FILE... [--replace] [--user USERNAME]`: import order lines (see docs/import-format.md)."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from cmdesk.sales import services
from cmdesk.sales.models import ImportStatus

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Import order lines from CSV (UTF-8 or GBK) or XLSX files into the fact store, all or nothing. "
        "Progress goes to stderr, the summary to stdout; the exit status is 1 when the import fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="each file is the complete record of the dates from its first to its last date: "
            "stored lines of those dates that are not in the file are deleted",
        )
        parser.add_argument("--user", metavar="USERNAME", help="the user recorded as the importer")

    def handle(self, *args, files: list[Path], replace: bool, user: str | None, **options):
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise CommandError(_("No such file: %(files)s") % {"files": ", ".join(missing)})
        actor = None
        if user:
            try:
                actor = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist as exc:
                raise CommandError(_("No user named %(name)s.") % {"name": user}) from exc
        order_import = services.order_import_begin(
            actor=actor, file_names=[f.name for f in files], replace=replace, status=ImportStatus.RUNNING
        )

        def progress(percent: int, message: str) -> None:
            self.stderr.write(f"[{percent:3d}%] {message}")

        order_import = services.order_import_run(order_import=order_import, paths=files, progress=progress)
        self.report(order_import)
        if order_import.status != ImportStatus.SUCCEEDED:
            raise CommandError(
                _("Import #%(pk)s failed: %(message)s") % {"pk": order_import.pk, "message": order_import.message}
            )

    def report(self, order_import) -> None:
        o = order_import
        for error in o.errors[:SHOWN_ERRORS]:
            where = f"{error['file']}:{error['row']}" if error.get("row") else error["file"]
            column = f" [{error['column']}]" if error.get("column") else ""
            value = f" “{error['value']}”" if error.get("value") else ""
            self.stderr.write(f"{where}{column}{value}: {services.reason_text(error)}")
        if o.error_count > SHOWN_ERRORS:
            self.stderr.write(
                _("… and %(count)d more errors (see the import's page).") % {"count": o.error_count - SHOWN_ERRORS}
            )
        self.stdout.write(
            _(
                "Import #%(pk)s %(status)s: %(rows)d rows read, %(inserted)d inserted, %(updated)d updated, "
                "%(unchanged)d unchanged, %(deleted)d deleted, %(errors)d errors."
            )
            % {
                "pk": o.pk,
                "status": o.get_status_display(),
                "rows": o.rows_read,
                "inserted": o.inserted,
                "updated": o.updated,
                "unchanged": o.unchanged,
                "deleted": o.deleted,
                "errors": o.error_count,
            }
        )
        if o.months:
            self.stdout.write(_("Months changed: %(months)s") % {"months": ", ".join(o.months)})
        if o.message and o.status == ImportStatus.SUCCEEDED:
            self.stderr.write(o.message)
