"""Editing assessment schemes: the draft's item rows (page formset and API body), checked and saved the same way.

* :func:`check_item` — one row's problems by field (metric, rule, rule parameters, weight, metric parameters), using
  the scoring services' own checks (``METRICS``, ``rules.validate_rule``), so a row's error is shown on that row.
* :func:`save_draft_items` — the write: the scheme must be a draft that no run has used; the rows are validated as a
  whole by ``schemes.validate_items`` (weights summing to exactly 100, codes unique, …), then the items are
  updated, created and deleted inside one transaction under ``acting_as(user)`` (django-auditlog keeps before/after).
* :class:`SchemeItemForm` / :func:`item_formset` — the page's rows; rule parameters are separate inputs (floor,
  target, …; steps as ``1:1, 3:2``) instead of JSON.

An active or used scheme is never edited in place: the centre makes a new version (``schemes.new_version``), edits
that draft and activates it.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cmdesk.work.services.board import parse_month

from .models import ItemCategory, ItemGroup, Rule, SchemeItem
from .services.metrics import METRICS
from .services.rules import KNOWN
from .services.schemes import check_item, validate_items

# Rule parameters edited as single numbers (steps is a list, edited as text); the form field is ``p_<key>``.
NUMBER_PARAMS = (
    "floor",
    "target",
    "bonus_per_unit_above",
    "cap",
    "deduction",
    "max_deduction",
    "penalty_per_point",
    "bonus_per_point",
    "min",
    "max",
)
PARAM_LABELS = {
    "floor": gettext_lazy("floor"),
    "target": gettext_lazy("target"),
    "bonus_per_unit_above": gettext_lazy("bonus per unit above"),
    "cap": gettext_lazy("cap"),
    "deduction": gettext_lazy("deduction each"),
    "max_deduction": gettext_lazy("max. deduction"),
    "penalty_per_point": gettext_lazy("penalty per point short"),
    "bonus_per_point": gettext_lazy("bonus per point over"),
    "min": gettext_lazy("min. points"),
    "max": gettext_lazy("max. points"),
    "steps": gettext_lazy("steps (threshold:points, …)"),
}


def json_number(value: Decimal) -> int | str:
    """A parameter as the default scheme stores it: an int when whole, else the decimal as a string ("0.5")."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return int(value)
    return format(value.normalize(), "f")


def format_steps(steps: Any) -> str:
    """[[1, 1], [3, 2]] → "1:1, 3:2" (what the form shows)."""
    if not isinstance(steps, list):
        return ""
    return ", ".join(f"{t}:{p}" for t, p in (s for s in steps if isinstance(s, list | tuple) and len(s) == 2))


def parse_steps(text: str) -> list[list[Any]]:
    """ "1:1, 3:2" → [[1, 1], [3, 2]]; a piece that is not threshold:points is a ValidationError naming it."""
    out = []
    for piece in (p.strip() for p in text.replace("，", ",").replace(";", ",").split(",")):
        if not piece:
            continue
        parts = piece.replace("：", ":").split(":")
        try:
            if len(parts) != 2:
                raise InvalidOperation
            out.append([json_number(Decimal(parts[0].strip())), json_number(Decimal(parts[1].strip()))])
        except (InvalidOperation, ValueError):
            raise ValidationError(
                _("Write each step as threshold:points (e.g. 3:2), not %(piece)r.") % {"piece": piece}
            ) from None
    return out


# ---- page forms -----------------------------------------------------------------------------------------------------


class InvalidMarked:
    """Inputs with errors get Bootstrap's ``is-invalid`` so the page marks them beside their message."""

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class MonthField(forms.CharField):
    """A month as YYYY-MM (``<input type="month">``), cleaned to its first day."""

    widget = forms.TextInput(attrs={"type": "month"})

    def to_python(self, value: Any) -> dt.date | None:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_month(text)
        except ValueError:
            raise ValidationError(_("Give a month as YYYY-MM, not %(v)r.") % {"v": text}) from None

    def prepare_value(self, value: Any) -> Any:
        return f"{value:%Y-%m}" if isinstance(value, dt.date) else value


class NewVersionForm(forms.Form):
    valid_from = MonthField(
        label=gettext_lazy("Valid from (month)"),
        help_text=gettext_lazy("the first month the new version scores once it is activated"),
    )


class SchemeMetaForm(InvalidMarked, forms.Form):
    valid_from = MonthField(label=gettext_lazy("Valid from (month)"))
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control form-control-sm")


class SchemeItemForm(InvalidMarked, forms.Form):
    """One indicator row of the draft editor; the source follows from the metric."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    position = forms.IntegerField(label=gettext_lazy("#"), min_value=0, max_value=999, required=False)
    code = forms.SlugField(label=gettext_lazy("Code"), max_length=40)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    group = forms.ChoiceField(label=gettext_lazy("Group"), choices=ItemGroup.choices)
    category = forms.ChoiceField(label=gettext_lazy("Category"), choices=ItemCategory.choices)
    weight = forms.DecimalField(label=gettext_lazy("Weight"), max_digits=5, decimal_places=2)
    metric = forms.ChoiceField(label=gettext_lazy("Metric"))
    params = forms.CharField(
        label=gettext_lazy("Metric parameters (JSON)"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": '{"definition": "sku"}'}),
    )
    rule = forms.ChoiceField(label=gettext_lazy("Scoring rule"), choices=Rule.choices)
    p_steps = forms.CharField(label=PARAM_LABELS["steps"], required=False, max_length=300)
    adjust_season = forms.BooleanField(label=gettext_lazy("Adjust for season"), required=False)
    adjust_potential = forms.BooleanField(label=gettext_lazy("Adjust for route potential"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = [(code, f"{m.label} ({code})") for code, m in METRICS.items()]
        for key in NUMBER_PARAMS:
            self.fields[f"p_{key}"] = forms.DecimalField(
                label=PARAM_LABELS[key], required=False, max_digits=12, decimal_places=4
            )
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("class", "form-select form-select-sm")
            elif not isinstance(field.widget, forms.HiddenInput):
                field.widget.attrs.setdefault("class", "form-control form-control-sm")
            if name.startswith("p_"):
                field.widget.attrs["data-param"] = name[2:]

    @staticmethod
    def initial_from(item: SchemeItem) -> dict[str, Any]:
        initial = {
            "id": item.pk,
            "position": item.position,
            "code": item.code,
            "name": item.name,
            "group": item.group,
            "category": item.category,
            "weight": item.weight,
            "metric": item.metric,
            "params": json.dumps(item.params, ensure_ascii=False) if item.params else "",
            "rule": item.rule,
            "adjust_season": item.adjust_season,
            "adjust_potential": item.adjust_potential,
        }
        params = item.rule_params or {}
        for key in NUMBER_PARAMS:
            if params.get(key) not in (None, ""):
                initial[f"p_{key}"] = params[key]
        if params.get("steps"):
            initial["p_steps"] = format_steps(params["steps"])
        return initial

    def param_fields(self) -> list[forms.BoundField]:
        return [self[f"p_{key}"] for key in NUMBER_PARAMS] + [self["p_steps"]]

    def rule_params(self) -> dict[str, Any]:
        """The rule parameters filled in (the ones the rule does not take are kept so the check names them)."""
        data = self.cleaned_data
        params: dict[str, Any] = {}
        for key in NUMBER_PARAMS:
            if data.get(f"p_{key}") is not None:
                params[key] = json_number(data[f"p_{key}"])
        if data.get("p_steps"):
            try:
                params["steps"] = parse_steps(data["p_steps"])
            except ValidationError as exc:
                self.add_error("p_steps", exc)
        return params

    def clean_params(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("params") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise ValidationError(_('Write the metric parameters as JSON, e.g. {"definition": "sku"}.')) from None
        if not isinstance(value, dict):
            raise ValidationError(_("The metric parameters must be an object (a JSON dict)."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors or data.get("DELETE"):
            return data
        row = self.row()
        for field, messages in check_item(row).items():
            target = None
            if field in self.fields:
                target = field
            elif field == "rule_params":
                target = None  # shown at the row, beside the parameter inputs
            for message in messages:
                self.add_error(target, message)
        return data

    def row(self) -> dict[str, Any]:
        """The row as :func:`save_draft_items` takes it."""
        data = self.cleaned_data
        return {
            "id": data.get("id"),
            "position": data.get("position"),
            "code": data.get("code"),
            "name": data.get("name"),
            "group": data.get("group"),
            "category": data.get("category"),
            "weight": data.get("weight"),
            "metric": data.get("metric"),
            "params": data.get("params") or {},
            "rule": data.get("rule"),
            "rule_params": self.rule_params(),
            "adjust_season": data.get("adjust_season"),
            "adjust_potential": data.get("adjust_potential"),
        }


class BaseSchemeItemFormSet(forms.BaseFormSet):
    """Rows together: codes unique (the duplicate row is marked), then the scheme service's check of the whole."""

    def clean(self) -> None:
        if any(form.errors for form in self.forms if not self._should_delete_form(form)):
            return
        live = [f for f in self.forms if f.has_changed() or f.cleaned_data.get("id")]
        live = [f for f in live if not self._should_delete_form(f)]
        seen: dict[str, int] = {}
        duplicate = False
        for n, form in enumerate(live, 1):
            code = form.cleaned_data.get("code")
            if code in seen:
                form.add_error(
                    "code", _("The code %(code)s is also used in row %(n)s.") % {"code": code, "n": seen[code]}
                )
                duplicate = True
            else:
                seen[code] = n
        if duplicate:
            return
        items = [SchemeItem(**_model_fields(form.row())) for form in live]
        try:
            validate_items(items)
        except ValidationError as exc:
            raise ValidationError([m for messages in exc.message_dict.values() for m in messages]) from None

    def rows(self) -> list[dict[str, Any]]:
        live = [f for f in self.forms if f.has_changed() or f.cleaned_data.get("id")]
        return [f.row() for f in live if not self._should_delete_form(f)]

    def total_weight(self) -> Decimal:
        total = Decimal("0")
        for form in self.forms:
            if getattr(form, "cleaned_data", None) and not self._should_delete_form(form):
                total += form.cleaned_data.get("weight") or 0
        return total


def _model_fields(row: dict[str, Any]) -> dict[str, Any]:
    metric = METRICS.get(row["metric"])
    return {
        "code": row["code"],
        "name": row["name"],
        "group": row["group"],
        "category": row["category"],
        "weight": row["weight"],
        "metric": row["metric"],
        "source": metric.source if metric else "",
        "params": row["params"],
        "rule": row["rule"],
        "rule_params": row["rule_params"],
    }


SchemeItemFormSet = forms.formset_factory(
    SchemeItemForm, formset=BaseSchemeItemFormSet, extra=1, can_delete=True, max_num=60, validate_max=True
)


def rule_keys() -> dict[str, list[str]]:
    """Which parameter inputs each rule uses (the page shows only those)."""
    return {rule: sorted(keys) for rule, keys in KNOWN.items()}
