"""Pages: order-anomaly alerts and their referrals to the market inspector (专销结合).

* ``supply:alert_list`` — the alerts in the user's scope, filtered by kind, status, month (YYYY-MM), branch and
  retailer (``?retailer=<id>``: the retailer's alerts); ``supply:alert_list_xlsx`` exports the same rows.
* ``supply:alert_detail`` — figures, the rule and threshold, the retailer's weekly orders around the alert (ECharts),
  the dismiss and refer forms (CM, head), the referral and the history. ``supply:alert_dismiss`` and
  ``supply:alert_refer`` are POSTs.
* ``supply:referral_list`` — an inspector's referrals (phone-first), overdue ones highlighted; others by scope.
  ``supply:referral_detail`` shows one with the answer form (``supply:referral_answer``, POST, the inspector only).
* ``supply:alert_rules`` — the thresholds that apply to the city or to a branch or department (``?unit=<id>``) and
  where they come from (own rules or inherited), the units with their own rules against the city's; the centre edits
  the chosen unit's own row (thresholds, holidays, presets). ``supply:alert_rules_own`` (POST) gives a unit its own
  rules as a copy of what it inherits, ``supply:alert_rules_remove`` (POST) removes them so it inherits again.

A CM sees only its own retailers' alerts, an inspector its org subtree's (read-only: 403 on dismiss or refer);
anything outside the user's scope is a 404.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cmdesk.analytics.anomaly import weekly_orders
from cmdesk.core.audit import history_for
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.pages import call_service
from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import has_model_perm
from cmdesk.core.views import apply_validation_error, with_actor_names
from cmdesk.core.widgets import DateInput
from cmdesk.core.xlsx import Sheet, xlsx_response
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import OrgUnit, staff_of

from ..models import Alert, AlertKind, AlertPreset, AlertRules, AlertStatus, Referral, ReferralOutcome
from ..services import alerts as svc

LIST_LIMIT = 500
FIGURE_LABELS = {
    "cartons": gettext_lazy("Cartons"),
    "last_month": gettext_lazy("Last month (cartons)"),
    "average_3m": gettext_lazy("Average of the 3 months before"),
    "average": gettext_lazy("Average of the last orders"),
    "orders_averaged": gettext_lazy("Orders averaged"),
    "order_id": gettext_lazy("Order"),
    "ratio": gettext_lazy("Ratio"),
    "growth": gettext_lazy("Growth"),
    "month": gettext_lazy("Month (cartons)"),
    "share": gettext_lazy("Share of the month"),
    "fill_last_month": gettext_lazy("Supplied ÷ ordered last month"),
    "peer_growth": gettext_lazy("Peer group's growth"),
    "peer_vs_3m": gettext_lazy("Peer group against its 3 months before"),
    "peers": gettext_lazy("Peers"),
    "peer_level": gettext_lazy("Peer group level (1 finest)"),
    "orders": gettext_lazy("Orders"),
    "order_size_vs_3m": gettext_lazy("Cartons per order against the 3 months before"),
    "median": gettext_lazy("Median of its tier and format"),
    "tier": gettext_lazy("Tier"),
    "format": gettext_lazy("Business format"),
    "group_level": gettext_lazy("Group level (1: tier and format)"),
    "group_size": gettext_lazy("Group size"),
    "similarity": gettext_lazy("Similarity"),
    "day_jaccard": gettext_lazy("Common order days (Jaccard)"),
    "line_overlap": gettext_lazy("Lines the partner ordered the same day"),
    "weekly_correlation": gettext_lazy("Weekly correlation"),
    "common_days": gettext_lazy("Common order days"),
    "partner_cartons": gettext_lazy("Related retailer's cartons"),
    "same_phone": gettext_lazy("Same phone"),
    "same_account": gettext_lazy("Same settlement account"),
    "brand": gettext_lazy("Brand"),
}
CHART_WEEKS = 10


def _filtered(request: HttpRequest):
    _need(request, Alert)
    qs = svc.visible_alerts(request.user).select_related("retailer", "retailer__route", "org_unit", "partner")
    g = request.GET
    if g.get("kind") in AlertKind.values:
        qs = qs.filter(kind=g["kind"])
    status = g.get("status", "unresolved")
    if status == "unresolved":
        qs = qs.filter(svc.unresolved_q())
    elif status in AlertStatus.values:
        qs = qs.filter(status=status)
    if g.get("month"):
        try:
            first, last = _month(g["month"])
        except ValidationError:
            pass
        else:
            qs = qs.filter(period_end__gte=first, period_start__lte=last)
    if g.get("branch"):
        branch = OrgUnit.objects.filter(pk=g["branch"] if g["branch"].isdigit() else 0).first()
        if branch is not None:
            qs = qs.filter(org_unit__path__startswith=branch.path)
    if (g.get("retailer") or "").isdigit():
        qs = qs.filter(retailer_id=int(g["retailer"]))
    return qs.order_by("-period_end", "-severity", "-id")


def _month(text: str) -> tuple[dt.date, dt.date]:
    from cmdesk.analytics.anomaly import month_bounds

    return month_bounds(svc.parse_month(text))


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    qs = _filtered(request)
    total = qs.count()
    context = {
        "alerts": list(qs[:LIST_LIMIT]),
        "total": total,
        "limit": LIST_LIMIT,
        "kinds": AlertKind.choices,
        "statuses": [("unresolved", _("Open or referred")), *AlertStatus.choices, ("all", _("All"))],
        "branches": OrgUnit.objects.filter(kind=OrgKind.BRANCH).order_by("path"),
        "q": request.GET,
        "query": request.GET.urlencode(),
        "can_rules": has_model_perm(request.user, AlertRules, "view"),
        "is_inspector": getattr(staff_of(request.user), "role", None) == Role.INSPECTOR,
    }
    return render(request, "supply/alert_list.html", context)


@login_required
def alert_list_xlsx(request: HttpRequest) -> HttpResponse:
    headers = ["类型", "状态", "零售户", "许可证号", "机构", "起", "止", "严重程度", "规则", "说明", "备注"]
    rows = (
        [
            str(a.get_kind_display()),
            str(a.get_status_display()),
            a.retailer.shop_name if a.retailer_id else a.measured.get("brand", ""),
            a.retailer.licence_no if a.retailer_id else "",
            a.org_unit.name,
            a.period_start,
            a.period_end,
            a.severity,
            a.threshold,
            a.detail,
            a.status_note,
        ]
        for a in _filtered(request).iterator()
    )
    return xlsx_response(f"预警-{timezone.localdate():%Y%m%d}.xlsx", Sheet("预警", headers, rows))


class ReferForm(forms.Form):
    deadline = forms.DateField(label=gettext_lazy("Deadline"), widget=DateInput())
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class DismissForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=250, widget=forms.Textarea(attrs={"rows": 2}))


class AnswerForm(forms.Form):
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), choices=ReferralOutcome.choices)
    feedback = forms.CharField(label=gettext_lazy("Feedback"), widget=forms.Textarea(attrs={"rows": 3}))


def _get_alert(request: HttpRequest, pk: int) -> Alert:
    _need(request, Alert)
    try:
        return svc.get_alert(request.user, pk)
    except OutOfScope as exc:
        raise Http404 from exc


def _chart(alert: Alert) -> dict | None:
    if not alert.retailer_id:
        return None
    first = alert.period_start - dt.timedelta(weeks=CHART_WEEKS)
    last = alert.period_end + dt.timedelta(weeks=4)
    ids = [alert.retailer_id] + ([alert.partner_id] if alert.partner_id else [])
    rows = weekly_orders(settings.CMDESK_DATA_DIR, ids, first, last)
    weeks = sorted({r[1] for r in rows})
    series = []
    for rid, name in (
        (alert.retailer_id, alert.retailer.shop_name),
        (alert.partner_id, getattr(alert.partner, "shop_name", "")),
    ):
        if rid is None:
            continue
        values = {r[1]: r[2] for r in rows if r[0] == rid}
        series.append({"name": name, "data": [values.get(w, 0) for w in weeks]})
    return {
        "weeks": [w.isoformat() for w in weeks],
        "series": series,
        "mark": [alert.period_start.isoformat(), alert.period_end.isoformat()],
    }


def _can_act(request: HttpRequest, alert: Alert) -> bool:
    staff = staff_of(request.user)
    return (
        alert.status == AlertStatus.OPEN
        and staff is not None
        and staff.role in (Role.CM, Role.HEAD, Role.CLERK, Role.CENTRE)
        and has_model_perm(request.user, Alert, "change")
    )


@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _get_alert(request, pk)
    referral = Referral.objects.filter(alert=alert).select_related("inspector", "referred_by").first()
    can_act = _can_act(request, alert)
    inspector = svc.inspector_for(alert) if can_act else None
    context = {
        "alert": alert,
        "referral": referral,
        "overdue": referral is not None and svc.is_overdue(referral),
        "can_act": can_act,
        "inspector": inspector,
        "refer_form": ReferForm(initial={"deadline": svc.default_deadline(alert)}) if can_act else None,
        "dismiss_form": DismissForm() if can_act else None,
        "chart": _chart(alert),
        "figures": [(FIGURE_LABELS.get(k, k), v) for k, v in alert.measured.items()],
        "history": with_actor_names(history_for(alert)),
        "rules_url": _judging_rules_url(request, alert.rules),
    }
    return render(request, "supply/alert_detail.html", context)


def _judging_rules_url(request: HttpRequest, rules: AlertRules | None) -> str | None:
    """The rules page of the rules that judged an alert, for a user who may read those rules."""
    if rules is None or not has_model_perm(request.user, AlertRules, "view"):
        return None
    if rules.org_unit is not None and not svc.rules_units(request.user).filter(pk=rules.org_unit_id).exists():
        return None
    return _rules_url(rules.org_unit)


def _service_error(request: HttpRequest, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


@login_required
@require_POST
def alert_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _get_alert(request, pk)
    form = DismissForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Say why the alert is dismissed."))
        svc.alert_dismiss(request.user, alert, form.cleaned_data["reason"])
    except OutOfScope as exc:
        raise Http404 from exc
    except ValidationError as error:
        _service_error(request, error)
    else:
        messages.success(request, _("Alert dismissed."))
    return redirect("supply:alert_detail", alert.pk)


@login_required
@require_POST
def alert_refer(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _get_alert(request, pk)
    form = ReferForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Give a valid deadline."))
        ref = svc.alert_refer(request.user, alert, form.cleaned_data["deadline"], form.cleaned_data["note"])
    except OutOfScope as exc:
        raise Http404 from exc
    except ValidationError as error:
        _service_error(request, error)
    else:
        messages.success(request, _("Referred to %(name)s.") % {"name": ref.inspector.name})
    return redirect("supply:alert_detail", alert.pk)


@login_required
def referral_list(request: HttpRequest) -> HttpResponse:
    _need(request, Referral)
    today = timezone.localdate()
    qs = svc.visible_referrals(request.user).select_related("alert", "alert__retailer", "inspector", "referred_by")
    show = request.GET.get("show", "open")
    if show == "open":
        qs = qs.filter(outcome="")
    rows = [{"ref": r, "overdue": svc.is_overdue(r, today)} for r in qs.order_by("deadline", "id")[:LIST_LIMIT]]
    return render(request, "supply/referral_list.html", {"rows": rows, "show": show, "today": today})


@login_required
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Referral)
    try:
        ref = svc.get_referral(request.user, pk)
    except OutOfScope as exc:
        raise Http404 from exc
    staff = staff_of(request.user)
    can_answer = not ref.outcome and staff is not None and staff.pk == ref.inspector_id
    context = {
        "ref": ref,
        "alert": ref.alert,
        "overdue": svc.is_overdue(ref),
        "form": AnswerForm() if can_answer else None,
        "history": with_actor_names(history_for(ref)),
    }
    return render(request, "supply/referral_detail.html", context)


@login_required
@require_POST
def referral_answer(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Referral)
    try:
        ref = svc.get_referral(request.user, pk)
        form = AnswerForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_("Choose an outcome and write what was found."))
        svc.referral_answer(request.user, ref, form.cleaned_data["outcome"], form.cleaned_data["feedback"])
    except OutOfScope as exc:
        raise Http404 from exc
    except ValidationError as error:
        _service_error(request, error)
    else:
        messages.success(request, _("Answer recorded; the alert is closed."))
    return redirect("supply:referral_detail", pk)


#: Fields that are not thresholds: the row's identity and bookkeeping, and the holidays (their own form).
RULES_NOT_THRESHOLDS = ("id", "org_unit", "preset", "updated_at", "holidays")


class RulesForm(forms.ModelForm):
    class Meta:
        model = AlertRules
        fields = [f.name for f in AlertRules._meta.concrete_fields if f.name not in RULES_NOT_THRESHOLDS]


class HolidaysForm(forms.Form):
    holidays = forms.CharField(
        label=gettext_lazy("Holidays screened"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace"}),
        help_text=gettext_lazy(
            "One date or date range per line, then an optional name: 2026-02-17 春节, or 2026-10-01..2026-10-07 国庆. "
            "Weeks around each date are screened for the seasonal rules."
        ),
    )


def _rules_url(unit: OrgUnit | None) -> str:
    """The rules page of the city (None) or of a branch or department."""
    url = reverse("supply:alert_rules")
    return f"{url}?unit={unit.pk}" if unit is not None else url


def _rules_unit(request: HttpRequest, raw: str | int | None) -> OrgUnit | None:
    """The branch or department asked for, inside the user's scope (else 404); nothing asked: the city default."""
    if raw in (None, ""):
        return None
    if not str(raw).isdigit():
        raise Http404
    unit = svc.rules_units(request.user).filter(pk=int(raw)).first()
    if unit is None:
        raise Http404
    return unit


def _rule_values(rules: AlertRules, city: AlertRules) -> list[dict]:
    """Each setting of ``rules`` with its label, the city's value, and whether it differs from the city's."""
    out = []
    for f in AlertRules._meta.concrete_fields:
        if f.name in ("id", "org_unit", "updated_at"):
            continue
        value, base = getattr(rules, f.name), getattr(city, f.name)
        differs = rules.pk != city.pk and value != base
        if f.name == "preset":
            value, base = rules.get_preset_display(), city.get_preset_display()
        elif f.name == "holidays":
            value = base = None  # shown as lines, not as JSON
        out.append({"name": f.name, "label": f.verbose_name, "value": value, "city": base, "differs": differs})
    return out


@login_required
def alert_rules(request: HttpRequest) -> HttpResponse:
    """The rules that apply to the city or to a chosen branch or department, where they come from, and the units with
    their own rules. The centre edits a unit's own row only: a unit that inherits must be given its own rules first,
    so editing a branch never changes the city's (or another branch's) thresholds."""
    _need(request, AlertRules)
    unit = _rules_unit(request, request.GET.get("unit"))
    rules = svc.rules_for(unit)
    own = unit is None or rules.org_unit_id == unit.pk
    can_change = has_model_perm(request.user, AlertRules, "change")
    editable = can_change and own
    form = holidays_form = None
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if not editable:
            messages.error(
                request,
                _("%(unit)s inherits the rules of %(source)s; give it its own rules first.")
                % {"unit": unit, "source": rules},
            )
            return redirect(_rules_url(unit))
        preset = request.POST.get("preset")
        try:
            if preset:
                svc.apply_preset(rules, preset, request.user)
                messages.success(request, _("Preset applied."))
                return redirect(_rules_url(unit))
            if request.POST.get("form") == "holidays":
                holidays_form = HolidaysForm(request.POST, initial={"holidays": svc.holidays_text(rules)})
                if holidays_form.is_valid():
                    if holidays_form.has_changed():
                        svc.set_holidays(rules, holidays_form.cleaned_data["holidays"], request.user)
                        messages.success(request, _("Holidays saved."))
                    return redirect(_rules_url(unit))
            else:
                form = RulesForm(request.POST, instance=AlertRules.objects.get(pk=rules.pk))
                if form.is_valid():
                    changed = {name: form.cleaned_data[name] for name in form.changed_data}
                    svc.rules_update(rules, changed, request.user)
                    messages.success(request, _("Alert rules saved."))
                    return redirect(_rules_url(unit))
        except OutOfScope as exc:
            raise Http404 from exc
        except ValidationError as error:
            target = holidays_form if holidays_form is not None else form
            if target is not None:
                apply_validation_error(target, error)
            else:
                _service_error(request, error)
    if editable:
        form = form or RulesForm(instance=rules)
        holidays_form = holidays_form or HolidaysForm(initial={"holidays": svc.holidays_text(rules)})
    city = svc.city_rules()
    units = list(svc.rules_units(request.user).order_by("path"))
    own_rows = list(AlertRules.objects.filter(org_unit__in=units).select_related("org_unit").order_by("org_unit__path"))
    own_ids = {row.org_unit_id for row in own_rows}
    in_scope_ids = {u.pk for u in units}
    context = {
        "unit": unit,
        "rules": rules,
        "own": own,
        "source": rules.org_unit,  # None: the city default
        "source_linkable": rules.org_unit_id is None or rules.org_unit_id in in_scope_ids,
        "city": city,
        "values": _rule_values(rules, city),
        "holiday_lines": svc.holidays_text(rules).splitlines(),
        "can_change": can_change,
        "form": form,
        "holidays_form": holidays_form,
        "presets": AlertPreset.choices,
        "units": [{"unit": u, "own": u.pk in own_ids} for u in units],
        "overrides": [
            {"rules": row, "changes": [v for v in _rule_values(row, city) if v["differs"] and v["name"] != "preset"]}
            for row in own_rows
        ],
        "object": rules,
        "history": with_actor_names(svc.rules_history(unit) if unit is not None else history_for(rules)),
    }
    invalid = any(f is not None and f.is_bound and f.errors for f in (form, holidays_form))
    return render(request, "supply/alert_rules.html", context, status=400 if invalid else 200)


@login_required
@require_POST
def alert_rules_own(request: HttpRequest, unit_id: int) -> HttpResponse:
    """Give a branch or department its own rules (a copy of what it inherits); then the page edits that row."""
    _need(request, AlertRules)
    unit = _rules_unit(request, unit_id)
    _need(request, AlertRules, "change")
    call_service(
        request,
        svc.create_override,
        unit,
        request.user,
        success=_("%(unit)s now has its own rules, copied from what it inherited.") % {"unit": unit},
    )
    return redirect(_rules_url(unit))


@login_required
@require_POST
def alert_rules_remove(request: HttpRequest, unit_id: int) -> HttpResponse:
    """Remove a unit's own rules: it inherits again from the unit above it or the city."""
    _need(request, AlertRules)
    unit = _rules_unit(request, unit_id)
    _need(request, AlertRules, "change")
    rules = AlertRules.objects.filter(org_unit=unit).first()
    if rules is None:
        messages.error(request, _("%(unit)s has no rules of its own.") % {"unit": unit})
    else:
        call_service(
            request,
            svc.delete_override,
            rules,
            request.user,
            success=_("%(unit)s now inherits its rules again.") % {"unit": unit},
        )
    return redirect(_rules_url(unit))


urlpatterns = [
    path("alerts/", alert_list, name="alert_list"),
    path("alerts/export.xlsx", alert_list_xlsx, name="alert_list_xlsx"),
    path("alerts/rules/", alert_rules, name="alert_rules"),
    path("alerts/rules/<int:unit_id>/own/", alert_rules_own, name="alert_rules_own"),
    path("alerts/rules/<int:unit_id>/remove/", alert_rules_remove, name="alert_rules_remove"),
    path("alerts/<int:pk>/", alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/dismiss/", alert_dismiss, name="alert_dismiss"),
    path("alerts/<int:pk>/refer/", alert_refer, name="alert_refer"),
    path("referrals/", referral_list, name="referral_list"),
    path("referrals/<int:pk>/", referral_detail, name="referral_detail"),
    path("referrals/<int:pk>/answer/", referral_answer, name="referral_answer"),
]
