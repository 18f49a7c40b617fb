"""Page forms for tier schemes (档位方案): the settings, the three score weights, the starting-tier rules and the
operating-ability rules as number inputs instead of JSON.

The forms only read what is typed (numbers, lists of bounds, rows of the floor-area table, a value per business
format) and say which input, and which position in a list, is wrong. What makes a scheme valid (weights summing to 1,
bounds ascending, band cells matching the tier count, …) stays in ``services.tiers.validate_scheme``:
:class:`SchemeEditor` puts its ValidationError, keyed by the scheme's field, on the matching form — a plain field on
its input, ``weights`` / ``initial_rules`` / ``ability_rules`` at the top of their group.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cmdesk.retail.choices import BusinessFormat, SettlementMethod
from cmdesk.retail.models import TIER_MAX

from .models import TierMethod, TierPeriod, TierScheme
from .services.tiers import ABILITY_PARTS

SPLIT = re.compile(r"[,，;；、\s]+")


def json_number(value: Decimal, old: Any = None) -> int | float:
    """A typed number as the scheme's JSON keeps it: the stored ``old`` number when equal (so an unchanged 1.0 is not
    logged as a change to 1), else an int when whole, else a float."""
    if _same(old, value):
        return old
    return int(value) if value == value.to_integral_value() else float(value)


def _same(old: Any, value: Any) -> bool:
    if isinstance(old, bool) or not isinstance(old, int | float) or value is None:
        return False
    try:
        return Decimal(str(old)) == Decimal(str(value))
    except InvalidOperation:
        return False


def plain(value: Any) -> str:
    """20.0 → "20", 0.25 → "0.25" (how a stored number is shown in an input)."""
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except (InvalidOperation, ValueError):
        return str(value)


def _above_zero(value: Decimal | None) -> None:
    if value is not None and value <= 0:
        raise ValidationError(_("Give a number above 0."), code="min_value")


def _table(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _label(name: str) -> str:
    return capfirst(TierScheme._meta.get_field(name).verbose_name)


class BoundsField(forms.CharField):
    """Lower bounds typed as "20, 40, 60" (commas, semicolons or spaces): a list of numbers. A piece that is not a
    number is named by its position; the order and the sign are the service's check, which names the position too."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(plain(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[int | float]:
        text = super().to_python(value) or ""
        out: list[int | float] = []
        for position, piece in enumerate((p for p in SPLIT.split(text) if p), start=1):
            try:
                number = Decimal(piece)
                if not number.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                raise ValidationError(
                    _("Bound %(n)s (%(value)s) is not a number.") % {"n": position, "value": piece}, code="invalid"
                ) from None
            out.append(json_number(number))
        return out


def _number(label: Any, *, required: bool = True, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(label=label, required=required, max_digits=12, decimal_places=4, **kwargs)


class _Styled:
    """Bootstrap classes on every input, and ``is-invalid`` on the ones with an error."""

    def style(self) -> None:
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)

    def full_clean(self) -> None:
        super().full_clean()
        self.mark_invalid()

    def mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class SchemeForm(_Styled, forms.Form):
    """The scheme's plain settings and its two lists of band bounds."""

    name = forms.CharField(label=_label("name"), max_length=100)
    tier_count = forms.IntegerField(
        label=_label("tier_count"),
        help_text=format_lazy(gettext_lazy("2 to {max}; D1 is the lowest tier."), max=TIER_MAX),
    )
    method = forms.ChoiceField(label=_label("method"), choices=TierMethod.choices)
    period = forms.ChoiceField(label=_label("period"), choices=TierPeriod.choices)
    window_months = forms.IntegerField(
        label=_label("window_months"), help_text=gettext_lazy("1 to 24 complete months before the recompute.")
    )
    shape = forms.DecimalField(
        label=_label("shape"), max_digits=4, decimal_places=2, help_text=TierScheme._meta.get_field("shape").help_text
    )
    hold_band = forms.IntegerField(
        label=_label("hold_band"), help_text=TierScheme._meta.get_field("hold_band").help_text
    )
    max_step = forms.IntegerField(label=_label("max_step"), help_text=TierScheme._meta.get_field("max_step").help_text)
    volume_bands = BoundsField(
        label=_label("volume_bands"),
        help_text=gettext_lazy(
            "Lower bounds of volume bands 2, 3, … (band 1 starts at 0), ascending, separated by commas: 20, 40, 60. "
            "Used by the band method."
        ),
    )
    price_bands = BoundsField(
        label=_label("price_bands"),
        help_text=gettext_lazy(
            "Lower bounds of price bands 2, 3, … (band 1 starts at 0), ascending, separated by commas: 70, 110. "
            "Used by the band method."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()

    @staticmethod
    def initial_from(scheme: TierScheme) -> dict[str, Any]:
        return {name: getattr(scheme, name) for name in SchemeForm.base_fields}

    def apply(self, scheme: TierScheme) -> None:
        for name in self.fields:
            value, old = self.cleaned_data[name], getattr(scheme, name)
            if isinstance(value, list) and isinstance(old, list) and len(old) == len(value):
                value = [json_number(Decimal(str(v)), o) for v, o in zip(value, old, strict=True)]
            setattr(scheme, name, value)


class WeightsForm(_Styled, forms.Form):
    """The score's three weights (method "weighted"); the service checks that they sum to 1."""

    quantity = _number(gettext_lazy("Cartons a month"), min_value=0)
    amount = _number(gettext_lazy("Amount a month"), min_value=0)
    ability = _number(gettext_lazy("Operating ability"), min_value=0)

    def __init__(self, *args: Any, weights: Any = None, **kwargs: Any) -> None:
        self.base = _table(weights)
        initial = {k: plain(v) for k, v in self.base.items() if k in self.base_fields}
        super().__init__(*args, initial=initial, **kwargs)
        self.style()

    def value(self) -> dict[str, int | float]:
        return {key: json_number(self.cleaned_data[key], self.base.get(key)) for key in self.fields}


class InitialRulesForm(_Styled, forms.Form):
    """Points of a new retailer's starting score: a floor-area table (a row per lower bound), points per business
    format, per display fixture and per settlement method, the points that reach the highest starting tier."""

    fixtures = _number(gettext_lazy("Points per display fixture"), min_value=0)
    fixtures_max = forms.IntegerField(label=gettext_lazy("Display fixtures counted at most"), min_value=0)
    max_points = _number(
        gettext_lazy("Points for the highest starting tier"),
        validators=[_above_zero],
        help_text=gettext_lazy("0 points start at D1; this many points (or more) start at the highest starting tier."),
    )
    tier_max = forms.IntegerField(
        label=gettext_lazy("Highest starting tier"),
        min_value=1,
        max_value=TIER_MAX,
        help_text=gettext_lazy("A new shop starts at most at this tier (and never above the scheme's top tier)."),
    )

    def __init__(self, *args: Any, rules: Any = None, **kwargs: Any) -> None:
        self.base = copy.deepcopy(_table(rules))
        self.area = area = [r for r in (self.base.get("area") or []) if isinstance(r, list | tuple) and len(r) == 2]
        initial: dict[str, Any] = {
            key: plain(self.base[key])
            for key in ("fixtures", "fixtures_max", "max_points", "tier_max")
            if self.base.get(key) is not None
        }
        for i, (low, points) in enumerate(area):
            initial[f"area_min_{i}"], initial[f"area_points_{i}"] = plain(low), plain(points)
        for key in ("format", "settlement"):
            for name, value in _table(self.base.get(key)).items():
                initial[f"{key}_{name}"] = plain(value)
        super().__init__(*args, initial=initial, **kwargs)
        rows = len(area) + 2
        if self.is_bound:  # as many rows as were posted
            pattern = re.compile(rf"^{re.escape(self.add_prefix('area_min_'))}(\d+)$")
            posted = [int(m.group(1)) for m in (pattern.match(k) for k in self.data) if m]
            rows = max(posted, default=-1) + 1
        self.area_count = min(rows, 50)
        for i in range(self.area_count):
            self.fields[f"area_min_{i}"] = _number(gettext_lazy("From m²"), required=False, min_value=0)
            self.fields[f"area_points_{i}"] = _number(gettext_lazy("Points"), required=False)
        for value, label in BusinessFormat.choices:
            self.fields[f"format_{value}"] = _number(label, required=False)
        for value, label in SettlementMethod.choices:
            self.fields[f"settlement_{value}"] = _number(label, required=False)
        self.style()

    def area_rows(self) -> list[tuple[int, forms.BoundField, forms.BoundField]]:
        return [(i + 1, self[f"area_min_{i}"], self[f"area_points_{i}"]) for i in range(self.area_count)]

    def format_rows(self) -> list[forms.BoundField]:
        return [self[f"format_{value}"] for value in BusinessFormat.values]

    def settlement_rows(self) -> list[forms.BoundField]:
        return [self[f"settlement_{value}"] for value in SettlementMethod.values]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        previous = None
        for i in range(self.area_count):
            low, points = data.get(f"area_min_{i}"), data.get(f"area_points_{i}")
            if f"area_min_{i}" in self.errors or f"area_points_{i}" in self.errors:
                continue
            if (low is None) != (points is None):
                missing = f"area_points_{i}" if points is None else f"area_min_{i}"
                self.add_error(
                    missing, _("Row %(n)s: give both the floor area and its points (or neither).") % {"n": i + 1}
                )
                continue
            if low is None:
                continue
            if previous is not None and low <= previous:
                self.add_error(
                    f"area_min_{i}",
                    _("Row %(n)s: the floor area must be above the row before (%(prev)s m²).")
                    % {"n": i + 1, "prev": plain(previous)},
                )
            previous = low
        return data

    def value(self) -> dict[str, Any]:
        """The rules as the scheme keeps them; keys the page does not edit are kept as they were."""
        data = self.cleaned_data
        rules = copy.deepcopy(self.base)
        old = [list(row) for row in self.area] + [[None, None]] * self.area_count
        rules["area"] = [
            [json_number(data[f"area_min_{i}"], old[i][0]), json_number(data[f"area_points_{i}"], old[i][1])]
            for i in range(self.area_count)
            if data.get(f"area_min_{i}") is not None
        ]
        for key, choices in (("format", BusinessFormat.values), ("settlement", SettlementMethod.values)):
            stored = _table(self.base.get(key))
            table = {k: v for k, v in stored.items() if k not in choices}
            for value in choices:
                if data.get(f"{key}_{value}") is not None:
                    table[value] = json_number(data[f"{key}_{value}"], stored.get(value))
            rules[key] = table
        rules["fixtures"] = json_number(data["fixtures"], self.base.get("fixtures"))
        rules["fixtures_max"] = data["fixtures_max"]
        rules["max_points"] = json_number(data["max_points"], self.base.get("max_points"))
        rules["tier_max"] = data["tier_max"]
        return rules


class AbilityRulesForm(_Styled, forms.Form):
    """Operating ability (0..1): the four parts' weights (summing to 1), the floor area and the number of display
    fixtures that count in full, and a value from 0 to 1 per business format."""

    part_area = _number(gettext_lazy("Floor area"), min_value=0)
    part_fixtures = _number(gettext_lazy("Display fixtures"), min_value=0)
    part_format = _number(gettext_lazy("Business format"), min_value=0)
    part_regularity = _number(gettext_lazy("Weeks with an order"), min_value=0)
    area_full = _number(gettext_lazy("Floor area that counts in full (m²)"), validators=[_above_zero])
    fixtures_full = _number(gettext_lazy("Display fixtures that count in full"), validators=[_above_zero])

    def __init__(self, *args: Any, rules: Any = None, **kwargs: Any) -> None:
        self.base = copy.deepcopy(_table(rules))
        initial: dict[str, Any] = {f"part_{k}": plain(v) for k, v in _table(self.base.get("parts")).items()}
        for key in ("area_full", "fixtures_full"):
            if self.base.get(key) is not None:
                initial[key] = plain(self.base[key])
        for name, value in _table(self.base.get("format")).items():
            initial[f"format_{name}"] = plain(value)
        super().__init__(*args, initial=initial, **kwargs)
        for value, label in BusinessFormat.choices:
            self.fields[f"format_{value}"] = _number(label, required=False, min_value=0, max_value=1)
        self.style()

    def part_rows(self) -> list[forms.BoundField]:
        return [self[f"part_{key}"] for key in ABILITY_PARTS]

    def format_rows(self) -> list[forms.BoundField]:
        return [self[f"format_{value}"] for value in BusinessFormat.values]

    def value(self) -> dict[str, Any]:
        data = self.cleaned_data
        rules = copy.deepcopy(self.base)
        parts, stored = _table(self.base.get("parts")), _table(self.base.get("format"))
        rules["parts"] = {key: json_number(data[f"part_{key}"], parts.get(key)) for key in ABILITY_PARTS}
        rules["area_full"] = json_number(data["area_full"], self.base.get("area_full"))
        rules["fixtures_full"] = json_number(data["fixtures_full"], self.base.get("fixtures_full"))
        table = {k: v for k, v in stored.items() if k not in BusinessFormat.values}
        for value in BusinessFormat.values:
            if data.get(f"format_{value}") is not None:
                table[value] = json_number(data[f"format_{value}"], stored.get(value))
        rules["format"] = table
        return rules


class SchemeEditor:
    """The scheme page's four forms, read, applied to a scheme and given the service's errors together."""

    def __init__(self, scheme: TierScheme, data: Any = None) -> None:
        self.main = SchemeForm(data, initial=SchemeForm.initial_from(scheme))
        self.weights = WeightsForm(data, prefix="weights", weights=scheme.weights)
        self.initial = InitialRulesForm(data, prefix="initial", rules=scheme.initial_rules)
        self.ability = AbilityRulesForm(data, prefix="ability", rules=scheme.ability_rules)
        # the scheme's JSON fields edited as a group: their service errors go to the top of the group
        self.groups: dict[str, forms.Form] = {
            "weights": self.weights,
            "initial_rules": self.initial,
            "ability_rules": self.ability,
        }

    @property
    def forms(self) -> list[forms.Form]:
        return [self.main, self.weights, self.initial, self.ability]

    def is_valid(self) -> bool:
        return all([form.is_valid() for form in self.forms])  # a list: every form is checked, not just the first

    @property
    def has_errors(self) -> bool:
        return any(form.is_bound and form.errors for form in self.forms)

    def apply(self, scheme: TierScheme) -> None:
        """Write the cleaned values onto ``scheme`` (not saved)."""
        self.main.apply(scheme)
        scheme.weights = self.weights.value()
        scheme.initial_rules = self.initial.value()
        scheme.ability_rules = self.ability.value()

    def add_error(self, error: ValidationError) -> None:
        """A service ValidationError: a field's messages on its input, a group's at the top of the group, the rest at
        the top of the page."""
        if not hasattr(error, "error_dict"):
            self.main.add_error(None, error)
            return
        for key, errors in error.error_dict.items():
            if key in self.groups:
                self.groups[key].add_error(None, errors)
            else:
                self.main.add_error(key if key in self.main.fields else None, errors)
        self.main.mark_invalid()

    def errors_by_key(self) -> dict[str, list[str]]:
        """Every message by the scheme's field (a group's inputs under the group): what the tests read."""
        out: dict[str, list[str]] = {}
        for name, errors in self.main.errors.items():
            out.setdefault(name, []).extend(str(e) for e in errors)
        for key, form in self.groups.items():
            for errors in form.errors.values():
                out.setdefault(key, []).extend(str(e) for e in errors)
        return out
