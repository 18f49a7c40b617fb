"""Pages: the CM's work home (phone first), the head's board with its xlsx export, and the user's reminders.

* ``work:home`` — a CM's day: today's planned visits, this month's plan and what is due; other roles go to the board.
* ``work:board`` — one row per CM in the user's scope for a month (``?month=2026-11&sort=-coverage``); a CM sees only
  its own row; roles without work permissions (inspectors) get 403. ``work:board_export`` is the same as xlsx.
* ``work:reminders`` — the user's reminders; ``work:reminder_read`` (POST, one, then follows its link) and
  ``work:reminders_read_all`` (POST).
"""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cmdesk.core.scope import has_model_perm
from cmdesk.org.choices import Role
from cmdesk.org.models import staff_of
from cmdesk.work.models import MonthlyPlan, PlannedVisit, VisitStatus
from cmdesk.work.rules import next_month, previous_month
from cmdesk.work.services.board import (
    STATE_LABELS,
    Board,
    RulesCache,
    board,
    month_label,
    open_items,
    parse_month,
    sort_rows,
)
from cmdesk.work.services.reminders import reminder_mark_read, reminders_for, reminders_mark_all_read

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---- the CM's work home ----------------------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request.user)
    if staff is None or staff.role != Role.CM or not staff.active:
        if has_model_perm(request.user, MonthlyPlan, "view"):
            return redirect("work:board")
        raise PermissionDenied(_("The work method's pages are for customer managers and their managers."))
    today = timezone.localdate()
    planned = list(
        PlannedVisit.objects.restrict(request.user)
        .filter(cm=staff, date=today)
        .select_related("retailer", "visit")
        .order_by("seq", "id")
    )
    for pv in planned:
        visit = getattr(pv, "visit", None)
        pv.state = visit.status if visit is not None else "planned"
        pv.visit_url = reverse("work:visit_detail", args=[visit.pk]) if visit is not None else ""
        pv.url = reverse("work:planned_detail", args=[pv.pk])
    own = board(request.user, today, today=today)
    row = own.rows[0] if own.rows else None
    items = sorted(open_items([staff], today, rules=RulesCache()), key=lambda i: (not i.overdue, i.due_date))
    context = {
        "staff": staff,
        "today": today,
        "planned": planned,
        "planned_done": sum(1 for pv in planned if pv.state == VisitStatus.DONE),
        "today_url": reverse("work:today"),
        "row": row,
        "month": own.label,
        "items": items,
        "reminders": list(reminders_for(request.user, unread_only=True)[:5]),
        "board_url": reverse("work:board"),
    }
    return render(request, "work/home.html", context)


# ---- the head's board ------------------------------------------------------------------------------------------------

COLUMNS = [  # (sort key, label)
    ("name", gettext_lazy("Customer manager")),
    ("plan", gettext_lazy("Monthly plan")),
    ("arrangements", gettext_lazy("Weekly arrangements")),
    ("summaries", gettext_lazy("Summaries")),
    ("visits", gettext_lazy("Visits planned / done")),
    ("coverage", gettext_lazy("Coverage")),
    ("achievement", gettext_lazy("Plan vs actual (cases)")),
    ("far", gettext_lazy("Far check-ins")),
    ("short", gettext_lazy("Short visits")),
]


def _board_from_request(request: HttpRequest) -> tuple[Board, str, str]:
    error = ""
    try:
        month = parse_month(request.GET.get("month"))
    except ValueError as exc:
        error, month = str(exc), parse_month(None)
    result = board(request.user, month)
    rows, sort = sort_rows(result.rows, request.GET.get("sort"))
    result.rows = rows
    return result, sort, error


def _board_url(month: dt.date, sort: str = "") -> str:
    query = {"month": month_label(month)}
    if sort:
        query["sort"] = sort
    return f"{reverse('work:board')}?{urlencode(query)}"


@login_required
def board_view(request: HttpRequest) -> HttpResponse:
    result, sort, error = _board_from_request(request)
    headers = []
    for key, label in COLUMNS:
        active = sort.lstrip("-") == key
        next_sort = key if (not active or sort.startswith("-")) else f"-{key}"
        headers.append(
            {
                "key": key,
                "label": label,
                "url": _board_url(result.month, next_sort),
                "active": active,
                "descending": active and sort.startswith("-"),
            }
        )
    totals = {
        "cms": len(result.rows),
        "plans_missing": sum(1 for r in result.rows if r.plan.state == "missing"),
        "arrangements_missing": sum(r.arrangements.missing for r in result.rows),
        "summaries_missing": sum(r.week_summaries.missing + (r.month_summary.state == "missing") for r in result.rows),
        "flagged": sum(r.week_summaries.flagged + bool(r.month_summary.flags) for r in result.rows),
        "far": sum(r.far for r in result.rows),
        "short": sum(r.short for r in result.rows),
    }
    context = {
        "board": result,
        "rows": result.rows,
        "headers": headers,
        "sort": sort,
        "error": error,
        "totals": totals,
        "month_value": result.label,
        "prev_url": _board_url(previous_month(result.month), sort),
        "next_url": _board_url(next_month(result.month), sort),
        "export_url": f"{reverse('work:board_export')}?{urlencode({'month': result.label, 'sort': sort})}",
        "is_cm": getattr(staff_of(request.user), "role", None) == Role.CM,
    }
    return render(request, "work/board/board.html", context)


def _pct(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def board_xlsx(result: Board, out) -> None:
    """The board as one xlsx sheet: a title row, a header, one row per CM, numbers kept numeric."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=result.label)
    title = WriteOnlyCell(ws, value=_("Work board %(month)s") % {"month": result.label})
    title.font = Font(bold=True)
    ws.append([title])
    header = [
        _("Employee number"),
        _("Customer manager"),
        _("Org unit"),
        _("Monthly plan"),
        _("Plan due"),
        _("Arrangements on time"),
        _("Arrangements late"),
        _("Arrangements missing"),
        _("Weeks"),
        _("Weekly summaries on time"),
        _("Weekly summaries late"),
        _("Weekly summaries missing"),
        _("Weekly summaries flagged"),
        _("Monthly summary"),
        _("Monthly summary flags"),
        _("Visits planned"),
        _("Planned visits done"),
        _("Visits done"),
        _("Retailers"),
        _("Retailers visited"),
        _("Coverage"),
        _("Target (cases)"),
        _("Actual (cases)"),
        _("Achievement"),
        _("Far check-ins"),
        _("Short visits"),
    ]
    cells = []
    for h in header:
        c = WriteOnlyCell(ws, value=h)
        c.font = Font(bold=True)
        cells.append(c)
    ws.append(cells)
    for r in result.rows:
        values = [
            r.cm.employee_no,
            r.cm.name,
            r.cm.org_unit.name,
            str(STATE_LABELS[r.plan.state]),
            timezone.localtime(r.plan.due).date(),
            r.arrangements.on_time,
            r.arrangements.late,
            r.arrangements.missing,
            r.arrangements.total,
            r.week_summaries.on_time,
            r.week_summaries.late,
            r.week_summaries.missing,
            r.week_summaries.flagged,
            str(STATE_LABELS[r.month_summary.state]),
            ", ".join(r.month_summary.flag_codes),
            r.planned,
            r.planned_done,
            r.done,
            r.retailers,
            r.visited,
            _pct(r.coverage),
            None if r.target_cases is None else float(r.target_cases),
            None if r.actual_cases is None else round(r.actual_cases, 2),
            _pct(r.achievement),
            r.far,
            r.short,
        ]
        row = []
        for i, v in enumerate(values):
            c = WriteOnlyCell(ws, value=v)
            if i in (20, 23) and v is not None:
                c.number_format = "0.0%"
            elif i in (21, 22) and v is not None:
                c.number_format = "#,##0.00"
            elif i == 4:
                c.number_format = "yyyy-mm-dd"
            row.append(c)
        ws.append(row)
    wb.save(out)


@login_required
def board_export(request: HttpRequest) -> HttpResponse:
    result, _sort, _error = _board_from_request(request)
    buf = io.BytesIO()
    board_xlsx(result, buf)
    response = HttpResponse(buf.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, f"work-board-{result.label}.xlsx")
    return response


# ---- reminders -------------------------------------------------------------------------------------------------------


@login_required
def reminder_list(request: HttpRequest) -> HttpResponse:
    items = list(reminders_for(request.user)[:200])
    return render(
        request,
        "work/board/reminders.html",
        {"reminders": items, "unread": sum(1 for r in items if r.read_at is None)},
    )


@login_required
@require_POST
def reminder_read(request: HttpRequest, pk: int) -> HttpResponse:
    reminder = reminder_mark_read(actor=request.user, reminder_id=pk)
    target = reminder.url if request.POST.get("follow") else ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("work:reminders")


@login_required
@require_POST
def reminders_read_all(request: HttpRequest) -> HttpResponse:
    n = reminders_mark_all_read(actor=request.user)
    messages.success(request, _("%(n)d reminders marked read.") % {"n": n})
    return redirect("work:reminders")


urlpatterns: list = [
    path("", home, name="home"),
    path("board/", board_view, name="board"),
    path("board/export/", board_export, name="board_export"),
    path("reminders/", reminder_list, name="reminders"),
    path("reminders/<int:pk>/read/", reminder_read, name="reminder_read"),
    path("reminders/read-all/", reminders_read_all, name="reminders_read_all"),
]
