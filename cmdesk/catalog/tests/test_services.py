from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cmdesk.catalog.models import PriceBand, Product
from cmdesk.catalog.services import price_bands_ensure_default, product_save, products_reclassify
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.tests.factories import ProductFactory, StaffFactory, build_org_tree
from cmdesk.org.choices import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("price", "band"),
    [
        ("500", "一类"),
        ("100", "一类"),
        ("99.99", "二类"),
        ("70", "二类"),
        ("69.99", "三类"),
        ("30", "三类"),
        ("29.99", "四类"),
        ("16.5", "四类"),
        ("16.49", "五类"),
        ("0.01", "五类"),
    ],
)
def test_default_bands_classify_at_their_boundaries(price, band):
    bands = price_bands_ensure_default()
    assert PriceBand.classify(Decimal(price), bands).name == band


def test_product_save_derives_the_class_and_reclassify_follows_band_changes():
    tree = build_org_tree()
    centre = StaffFactory(role=Role.CENTRE, org_unit=tree.centre)
    price_bands_ensure_default()
    product = product_save(
        actor=centre.user,
        product=Product(
            code="6901",
            name="湘岳(硬)",
            brand="湘岳",
            manufacturer="本省中烟",
            wholesale_price=Decimal("95.00"),
            retail_price=Decimal("110.00"),
        ),
    )
    assert product.price_class.name == "二类"
    # the province moves the 一类 floor to 90 yuan
    PriceBand.objects.filter(name="一类").update(min_price=Decimal("90"))
    PriceBand.objects.filter(name="二类").update(max_price=Decimal("90"))
    assert products_reclassify(actor=centre.user) == 1
    assert Product.objects.get(pk=product.pk).price_class.name == "一类"


def test_product_save_refuses_without_permission_or_band():
    tree = build_org_tree()
    cm = StaffFactory(role=Role.CM, org_unit=tree.area_a1)
    product = ProductFactory.build(code="6902")
    with pytest.raises(OutOfScope):
        product_save(actor=cm.user, product=product)
    centre = StaffFactory(role=Role.CENTRE, org_unit=tree.centre)
    PriceBand.objects.all().delete()
    with pytest.raises(ValidationError) as err:
        product_save(actor=centre.user, product=ProductFactory.build(code="6903", price_class=None))
    assert "wholesale_price" in err.value.error_dict
    assert not Product.objects.filter(code__in=["6902", "6903"]).exists()
