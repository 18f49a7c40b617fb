"""Every scoring rule at and around its boundaries, with exact Decimal results."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from cmdesk.assess.models import Rule
from cmdesk.assess.services.rules import apply, manual, validate_rule


@pytest.fixture(autouse=True)
def _english():
    """These tests match the English messages; the site's default language is zh-hans."""
    with translation.override("en"):
        yield


FORECAST = {"target": 95, "penalty_per_point": "0.5", "bonus_per_point": 1, "cap": 20}


@pytest.mark.parametrize(
    ("measured", "points"),
    [
        ("95", "15.00"),  # at the target: full marks
        ("94.99", "15.00"),  # 0.01 short → 14.995, rounded half up (四舍五入) to 15.00
        ("94.98", "14.99"),
        ("94", "14.50"),
        ("93.5", "14.25"),  # the docstring's example: 15 − 0.5 × 1.5
        ("65", "0.00"),  # 30 points short: 15 − 15 = 0
        ("60", "0.00"),  # floored at 0
        ("95.5", "15.50"),  # +1 per point over
        ("100", "20.00"),  # 5 over: 20 = the cap
        ("101", "20.00"),  # capped
    ],
)
def test_forecast_accuracy_rule(measured, points):
    res = apply(Rule.TARGET_PER_POINT, 15, FORECAST, D(measured))
    assert res.points == D(points)


def test_forecast_text_shows_the_arithmetic():
    assert apply(Rule.TARGET_PER_POINT, 15, FORECAST, D("93.5")).text.endswith("15 − 0.5 × 1.5 = 14.25")
    assert "20" in apply(Rule.TARGET_PER_POINT, 15, FORECAST, D("101")).text


@pytest.mark.parametrize(
    ("measured", "points"),
    [
        ("-10", "0.00"),
        ("-10.01", "0.00"),
        ("-9.99", "0.01"),
        ("-2.5", "7.50"),
        ("4.99", "14.99"),
        ("5", "15.00"),
        ("20", "15.00"),
    ],
)
def test_linear_floor_target(measured, points):
    assert apply(Rule.LINEAR, 15, {"floor": -10, "target": 5}, D(measured)).points == D(points)


def test_linear_bonus_and_cap():
    params = {"floor": 80, "target": 100, "bonus_per_unit_above": "0.1", "cap": 6}
    assert apply(Rule.LINEAR, 5, params, D("100")).points == D("5.00")
    assert apply(Rule.LINEAR, 5, params, D("105")).points == D("5.50")
    assert apply(Rule.LINEAR, 5, params, D("110")).points == D("6.00")
    assert apply(Rule.LINEAR, 5, params, D("130")).points == D("6.00")
    assert apply(Rule.LINEAR, 5, params, D("90")).points == D("2.50")


def test_linear_lower_is_better():
    params = {"floor": 10, "target": 2}
    assert apply(Rule.LINEAR, 4, params, D("2")).points == D("4.00")
    assert apply(Rule.LINEAR, 4, params, D("6")).points == D("2.00")
    assert apply(Rule.LINEAR, 4, params, D("10")).points == D("0.00")


@pytest.mark.parametrize(
    ("measured", "points"),
    [
        ("0", "0.00"),
        ("0.99", "0.00"),
        ("1", "1.00"),
        ("2.99", "1.00"),
        ("3", "2.00"),
        ("9", "3.00"),
        ("10", "4.00"),
        ("99", "4.00"),
    ],
)
def test_steps(measured, points):
    params = {"steps": [[1, 1], [3, 2], [6, 3], [10, 4]]}
    assert apply(Rule.STEPS, 4, params, D(measured)).points == D(points)


@pytest.mark.parametrize(("n", "points"), [(0, "10.00"), (1, "9.00"), (9, "1.00"), (10, "0.00"), (11, "0.00")])
def test_per_occurrence_capped_at_weight(n, points):
    assert apply(Rule.PER_OCCURRENCE, 10, {"deduction": 1}, D(n)).points == D(points)


def test_per_occurrence_max_deduction():
    params = {"deduction": 2, "max_deduction": 5}
    assert apply(Rule.PER_OCCURRENCE, 10, params, D(2)).points == D("6.00")
    assert apply(Rule.PER_OCCURRENCE, 10, params, D(3)).points == D("5.00")  # 6 > 5: capped
    assert (
        "capped" in apply(Rule.PER_OCCURRENCE, 10, params, D(3)).text
        or "5" in apply(Rule.PER_OCCURRENCE, 10, params, D(3)).text
    )
    # the 100-point example: −0.5 per late forecast
    assert apply(Rule.PER_OCCURRENCE, 2, {"deduction": "0.5"}, D(3)).points == D("0.50")


def test_manual_needs_points_and_justification():
    assert manual(D(5), {}, D("3.5"), "seen on site").points == D("3.50")
    with pytest.raises(ValidationError) as exc:
        manual(D(5), {}, D("3"), "  ")
    assert "justification" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        manual(D(5), {}, D("5.01"), "why")
    assert "points" in exc.value.message_dict
    with pytest.raises(ValidationError):
        apply(Rule.MANUAL, 5, {}, D(1))


@pytest.mark.parametrize(
    ("rule", "params", "fragment"),
    [
        (Rule.LINEAR, {"floor": 1}, "target"),
        (Rule.LINEAR, {"floor": 5, "target": 5}, "differ"),
        (Rule.LINEAR, {"floor": 0, "target": "x"}, "number"),
        (Rule.LINEAR, {"floor": 0, "target": 5, "cap": 3}, "cap"),
        (Rule.LINEAR, {"floor": 0, "target": 5, "foo": 1}, "foo"),
        (Rule.STEPS, {"steps": []}, "steps"),
        (Rule.STEPS, {"steps": [[1, 99]]}, "between"),
        (Rule.STEPS, {"steps": [[1, 1], [1, 2]]}, "repeats"),
        (Rule.PER_OCCURRENCE, {"deduction": 0}, "greater than 0"),
        (Rule.TARGET_PER_POINT, {"target": 95}, "penalty_per_point"),
    ],
)
def test_invalid_params_are_named(rule, params, fragment):
    with pytest.raises(ValidationError) as exc:
        validate_rule(rule, params, D(10))
    assert any(fragment in m for m in exc.value.message_dict["rule_params"])
