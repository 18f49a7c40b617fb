"""Forms of the monthly plan pages. The writes go through cmdesk.work.services.plans."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

from cmdesk.org.choices import OrgKind
from cmdesk.org.forms import OrgUnitChoiceField, org_units_in_scope
from cmdesk.org.models import OrgUnit
from cmdesk.retail.models import Retailer

from .models import MonthlyPlan
from .services.plans import INACTIVE_RETAILER, focus_sort_key

MONTH_WIDGET = forms.TextInput(attrs={"type": "month", "pattern": r"\d{4}-\d{2}", "placeholder": "YYYY-MM"})
CASES_WIDGET = forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"})


class MonthField(forms.CharField):
    """A month typed as YYYY-MM (the browser's month input); cleans to the month's first day."""

    widget = MONTH_WIDGET

    def to_python(self, value: Any) -> dt.date | None:
        value = super().to_python(value)
        if not value:
            return None
        try:
            return dt.date.fromisoformat(f"{value[:7]}-01")
        except ValueError as exc:
            raise forms.ValidationError(_("Enter a month as YYYY-MM."), code="invalid") from exc

    def prepare_value(self, value: Any) -> Any:
        return value.strftime("%Y-%m") if isinstance(value, dt.date) else value


class PrepareForm(forms.Form):
    month = MonthField(label=_("Month"))


class PlanEditForm(forms.Form):
    """The CM's plan: route and key-brand targets (a change needs a reason), key tasks, focus retailers."""

    key_tasks = forms.CharField(
        label=_("Key tasks"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What you will do this month: brands to cultivate, retailers to win back, measures."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    add_focus = forms.ModelChoiceField(
        label=_("Add a focus retailer"), queryset=Retailer.objects.none(), required=False
    )
    add_focus_detail = forms.CharField(label=_("Why"), max_length=300, required=False)

    def __init__(self, *args: Any, plan: MonthlyPlan, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"key_tasks": plan.key_tasks, "notes": plan.notes})
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.route_lines = list(plan.route_targets.select_related("route").order_by("route__code"))
        self.brand_lines = list(plan.brand_targets.order_by("brand"))
        self.focus_lines = sorted(plan.focus_retailers.select_related("retailer"), key=focus_sort_key)
        for prefix, lines in (("route", self.route_lines), ("brand", self.brand_lines)):
            for line in lines:
                self.fields[f"{prefix}_{line.pk}_target"] = forms.DecimalField(
                    label=_("Target (cases)"),
                    max_digits=10,
                    decimal_places=2,
                    validators=[MinValueValidator(0)],
                    initial=line.target_cases,
                    widget=CASES_WIDGET,
                )
                self.fields[f"{prefix}_{line.pk}_reason"] = forms.CharField(
                    label=_("Reason for the change"), max_length=300, required=False, initial=line.reason
                )
        for line in self.focus_lines:
            self.fields[f"focus_{line.retailer_id}"] = forms.BooleanField(
                label=line.retailer.shop_name, required=False, initial=line.selected
            )
        taken = [line.retailer_id for line in self.focus_lines]
        self.fields["add_focus"].queryset = (
            Retailer.objects.filter(route__cm=plan.cm_id)
            .exclude(status__in=INACTIVE_RETAILER)
            .exclude(pk__in=taken)
            .order_by("route__code", "visit_order")
        )

    def rows(self, prefix: str) -> list[dict[str, Any]]:
        lines = self.route_lines if prefix == "route" else self.brand_lines
        return [
            {"line": line, "target": self[f"{prefix}_{line.pk}_target"], "reason": self[f"{prefix}_{line.pk}_reason"]}
            for line in lines
        ]

    @property
    def route_rows(self) -> list[dict[str, Any]]:
        return self.rows("route")

    @property
    def brand_rows(self) -> list[dict[str, Any]]:
        return self.rows("brand")

    @property
    def focus_rows(self) -> list[dict[str, Any]]:
        return [{"line": line, "field": self[f"focus_{line.retailer_id}"]} for line in self.focus_lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for prefix, lines in (("route", self.route_lines), ("brand", self.brand_lines)):
            for line in lines:
                target = data.get(f"{prefix}_{line.pk}_target")
                if target is not None and target != line.suggested_cases and not data.get(f"{prefix}_{line.pk}_reason"):
                    self.add_error(
                        f"{prefix}_{line.pk}_reason",
                        _("The target differs from the suggestion (%(suggested)s cases): give a reason.")
                        % {"suggested": line.suggested_cases},
                    )
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """plan_update's keyword arguments from the cleaned data."""
        data = self.cleaned_data
        focus = [
            {"retailer": line.retailer_id, "selected": data[f"focus_{line.retailer_id}"]} for line in self.focus_lines
        ]
        if data.get("add_focus"):
            focus.append(
                {"retailer": data["add_focus"].pk, "selected": True, "detail": data.get("add_focus_detail", "")}
            )
        return {
            "key_tasks": data["key_tasks"],
            "notes": data["notes"],
            "route_targets": [
                {
                    "route": line.route_id,
                    "target_cases": data[f"route_{line.pk}_target"],
                    "reason": data[f"route_{line.pk}_reason"],
                }
                for line in self.route_lines
            ],
            "brand_targets": [
                {
                    "brand": line.brand,
                    "target_cases": data[f"brand_{line.pk}_target"],
                    "reason": data[f"brand_{line.pk}_reason"],
                }
                for line in self.brand_lines
            ],
            "focus_retailers": focus,
        }


class DecisionForm(forms.Form):
    DECISIONS = (("approve", _("Approve")), ("return", _("Return")))

    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when returning the plan: say what should change."),
    )


class DeptTargetForm(forms.Form):
    org_unit = OrgUnitChoiceField(queryset=OrgUnit.objects.none(), label=_("Department"))
    month = MonthField(label=_("Month"))
    volume_cases = forms.DecimalField(
        label=_("Volume target (cases)"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        widget=CASES_WIDGET,
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = org_units_in_scope(user).filter(kind=OrgKind.DEPARTMENT).order_by("path")
        self.fields["org_unit"].queryset = units
        if units.count() == 1:
            self.fields["org_unit"].initial = units.first()
