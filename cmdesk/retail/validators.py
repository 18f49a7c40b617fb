import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def validate_licence_no(value: str) -> None:
    """A tobacco retail licence number (烟草专卖零售许可证号) in the configured format (12 digits by default)."""
    pattern = settings.CMDESK_LICENCE_REGEX
    if not re.fullmatch(pattern, value or ""):
        raise ValidationError(
            _("“%(value)s” is not a valid licence number: expected %(pattern)s (12 digits by default)."),
            code="invalid_licence",
            params={"value": value, "pattern": pattern},
        )


def validate_weekdays(value) -> None:
    if not isinstance(value, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in value):
        raise ValidationError(
            _("Weekdays must be a list of numbers 0 (Monday) to 6 (Sunday)."), code="invalid_weekdays"
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("A weekday is listed twice."), code="duplicate_weekdays")
