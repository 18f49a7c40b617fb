from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from cmdesk.assess.models import Rule, Scheme, SchemeItem, SchemeStatus
from cmdesk.assess.services.schemes import activate, new_version, scheme_for, validate_scheme
from cmdesk.assess.tests.factories import default_scheme
from cmdesk.core.tests.factories import build_org_tree

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """These tests match the English messages; the site's default language is zh-hans."""
    with translation.override("en"):
        yield


def test_default_scheme_validates_and_sums_to_100():
    scheme = default_scheme()
    validate_scheme(scheme)
    items = list(scheme.items.all())
    assert sum(i.weight for i in items) == D("100")
    assert scheme.status == SchemeStatus.ACTIVE
    assert len({i.code for i in items}) == len(items) == 15
    fa = scheme.items.get(code="forecast-accuracy")
    assert (fa.weight, fa.rule, fa.rule_params["target"]) == (D("15"), Rule.TARGET_PER_POINT, 95)
    marketing = sum(i.weight for i in items if i.position <= 6)
    assert marketing == D("50")
    assert "预测准确率" in scheme.description
    assert default_scheme().pk == scheme.pk  # idempotent


def test_weights_99_refused_with_a_clear_message():
    scheme = new_version(default_scheme())
    item = scheme.items.get(code="growth-rate")
    item.weight = D("4")
    item.save()
    with pytest.raises(ValidationError) as exc:
        activate(scheme)
    assert "The weights sum to 99; they must sum to exactly 100." in exc.value.message_dict["items"]
    scheme.refresh_from_db()
    assert scheme.status == SchemeStatus.DRAFT


def test_unknown_metric_duplicate_code_and_bad_params():
    scheme = Scheme.objects.create(name="t", valid_from="2026-01-01")
    SchemeItem.objects.create(
        scheme=scheme,
        code="a",
        name="a",
        group="result",
        category="economic",
        weight=50,
        source="kpi",
        metric="nope",
        rule=Rule.LINEAR,
        rule_params={"floor": 0, "target": 1},
    )
    SchemeItem.objects.create(
        scheme=scheme,
        code="b",
        name="b",
        group="result",
        category="economic",
        weight=50,
        source="kpi",
        metric="growth_rate",
        rule=Rule.LINEAR,
        rule_params={"floor": 0},
    )
    with pytest.raises(ValidationError) as exc:
        validate_scheme(scheme)
    msgs = exc.value.message_dict["items"]
    assert any("unknown metric 'nope'" in m for m in msgs)
    assert any(m.startswith("Item b:") and "target" in m for m in msgs)


def test_new_version_copies_items_and_activation_retires_the_old():
    tree = build_org_tree()
    old = default_scheme()
    new = new_version(old)
    assert (new.version, new.status, new.items.count()) == (2, SchemeStatus.DRAFT, 15)
    activate(new)
    old.refresh_from_db()
    assert old.status == SchemeStatus.RETIRED
    assert scheme_for(tree.dept_a, new.valid_from).pk == new.pk
