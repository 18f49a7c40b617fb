"""The 4+X classes: the 2008 preset's codes, the 4+X preset, local dimensions (a field range, manual levels),
validation, class_codes and the command."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import translation

from cmdesk.core.tests.factories import RetailerFactory, RouteFactory, build_org_tree
from cmdesk.retail.choices import BusinessFormat, CreditGrade, MarketType, RetailerStatus
from cmdesk.supply.models import ClassPreset, ClassScheme, RetailerClass
from cmdesk.supply.services import classes as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def shops():
    tree = build_org_tree()
    route = RouteFactory(org_unit=tree.area_a1)
    spec = [
        # format, market, tier, credit, area
        (BusinessFormat.GROCERY, MarketType.URBAN, 25, CreditGrade.AAA, "60.0"),
        (BusinessFormat.CONVENIENCE, MarketType.RURAL, 12, CreditGrade.A, "25.0"),
        (BusinessFormat.SUPERMARKET, MarketType.URBAN, 3, CreditGrade.B, "10.0"),
        (BusinessFormat.MALL, MarketType.URBAN, 30, "", "400.0"),
        (BusinessFormat.TOBACCO_LIQUOR, MarketType.RURAL, 20, CreditGrade.AA, "50.0"),
        (BusinessFormat.ENTERTAINMENT, MarketType.RURAL, 11, CreditGrade.C, None),
        (BusinessFormat.OTHER, MarketType.RURAL, 10, CreditGrade.D, "19.9"),
    ]
    out = [
        RetailerFactory(
            route=route,
            business_format=fmt,
            market_type=market,
            tier=tier,
            credit_grade=credit,
            floor_area=Decimal(area) if area else None,
        )
        for fmt, market, tier, credit, area in spec
    ]
    RetailerFactory(route=route, status=RetailerStatus.CANCELLED)  # not classified
    return out


def test_2008_preset_codes(shops):
    scheme = svc.create_preset(ClassPreset.CODE_2008, "2008")
    counts = svc.classify(scheme)
    assert counts == {"retailers": 7, "classes": 7}
    codes = dict(RetailerClass.objects.filter(scheme=scheme).values_list("retailer_id", "code"))
    assert [codes[s.pk] for s in shops] == ["CZ1", "XB2", "CS3", "CN1", "XY2", "XF2", "XQ3"]
    first = RetailerClass.objects.get(scheme=scheme, retailer=shops[0])
    assert first.levels == {"market": "C", "format": "Z", "scale": "1"}
    assert svc.describe(scheme, first.levels) == "城镇 · 食杂 · 大"
    assert sum(len(d["levels"]) for d in scheme.dimensions) == 2 + 7 + 3  # 2 × 7 × 3 = 42 classes


def test_4x_preset_with_the_local_floor_area_dimension(shops):
    scheme = svc.create_preset(ClassPreset.FOUR_X, "4+X", active=True)
    svc.classify(scheme)
    codes = svc.class_codes([s.pk for s in shops])
    assert [codes[s.pk] for s in shops] == ["CZ1AL", "XB2BM", "CS3CS", "CN1NL", "XY2AL", "XF2CS", "XQ3CS"]


def test_manual_dimension_levels_survive_a_reclassify(shops):
    dims = [
        *svc.preset_2008(),
        {
            "code": "display",
            "name": "陈列",
            "kind": "local",
            "source": "manual",
            "levels": [{"code": "G", "label": "好"}, {"code": "P", "label": "差"}],
            "default": "P",
        },
    ]
    scheme = svc.save_scheme(ClassScheme(name="陈列", dimensions=dims))
    svc.classify(scheme)
    rc = RetailerClass.objects.get(scheme=scheme, retailer=shops[0])
    assert rc.code == "CZ1P"
    svc.set_manual_level(rc, "display", "G")
    assert RetailerClass.objects.get(pk=rc.pk).code == "CZ1G"
    svc.classify(scheme)
    assert RetailerClass.objects.get(pk=rc.pk).code == "CZ1G"
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.set_manual_level(rc, "display", "X")
    assert exc.value.message_dict == {"level": ["X is not a level of 陈列."]}
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.set_manual_level(rc, "format", "Z")
    assert exc.value.message_dict == {"dimension": ["format is not a manual dimension of 陈列."]}


def test_class_codes_computes_retailers_not_yet_classified(shops):
    scheme = svc.create_preset(ClassPreset.CODE_2008, "2008", active=True)
    assert svc.class_codes([shops[0].pk, shops[6].pk]) == {shops[0].pk: "CZ1", shops[6].pk: "XQ3"}
    assert not RetailerClass.objects.filter(scheme=scheme).exists()
    assert svc.class_codes([shops[0].pk], ClassScheme(name="none", dimensions=svc.preset_2008())) == {
        shops[0].pk: "CZ1"
    }


def test_only_one_active_scheme(shops):
    a = svc.create_preset(ClassPreset.CODE_2008, "a", active=True)
    b = svc.create_preset(ClassPreset.FOUR_X, "b", active=True)
    a.refresh_from_db()
    assert not a.active and b.active and svc.active_scheme() == b


def test_validation_names_dimension_and_level():
    bad = [
        {"code": "market", "source": "market_type", "levels": [{"code": "C", "match": "urban"}]},
        {
            "code": "area",
            "source": "field",
            "field": "floor_area",
            "levels": [{"code": "L", "match": {"min": 50, "max": 20}}],
        },
        {"code": "area", "source": "weather", "levels": []},
        {"code": "x", "source": "field", "field": "password", "levels": [{"code": "A", "match": ["a"]}]},
    ]
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.validate_dimensions(bad)
    assert exc.value.message_dict["dimensions"] == [
        "Dimension market, level C: give the list of values it matches.",
        'Dimension area, level L: give a range {"min": a, "max": b} with a < b.',
        "The dimension code area is used twice.",
        "Dimension area: unknown source 'weather'; known: format, market_type, scale, credit, field, manual.",
        "Dimension x: field 'password' is not one of floor_area, display_fixtures, tier, order_method, "
        "settlement_method, business_format, market_type, credit_grade, status.",
    ]


def test_distribution_by_branch(shops):
    scheme = svc.create_preset(ClassPreset.CODE_2008, "2008")
    svc.classify(scheme)
    dist = svc.distribution(scheme, RetailerClass.objects.filter(scheme=scheme))
    assert dist["codes"] == ["CN1", "CS3", "CZ1", "XB2", "XF2", "XQ3", "XY2"]
    assert dist["count"] == 7
    assert dist["branches"] == [{"name": "甲县分公司", "counts": [1] * 7, "count": 7}]


def test_classify_command(shops, capsys):
    call_command("classify", "--preset", "2008", "--activate")
    out = capsys.readouterr().out
    scheme = ClassScheme.objects.get()
    assert scheme.active and scheme.computed_at is not None
    assert "7 retailers in 7 classes" in out
    call_command("classify")
    assert RetailerClass.objects.filter(scheme=scheme).count() == 7
