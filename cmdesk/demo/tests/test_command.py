"""The `cmdesk demo` command: refuses to overwrite data without --reset, rebuilds with it, prints logins."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cmdesk.org.models import OrgUnit
from cmdesk.retail.models import Retailer

pytestmark = pytest.mark.django_db


def demo(*args):
    out = StringIO()
    call_command("demo", "--scale", "county", "--years", "0", "--as-of", "2026-11-20", *args, stdout=out)
    return out.getvalue()


def test_demo_builds_refuses_to_overwrite_and_resets():
    output = demo()
    assert "head09" in output and "cmdesk-demo" in output
    count = Retailer.objects.count()
    with pytest.raises(CommandError, match="--reset"):
        demo()
    assert Retailer.objects.count() == count

    output = demo("--if-empty")
    assert "not rebuilt" in output and "head09" in output  # logins printed again from demo.json
    assert Retailer.objects.count() == count

    demo("--reset", "--seed", "99")
    assert Retailer.objects.count() == count  # same county size, new seed
    assert OrgUnit.objects.filter(depth=1).count() == 1


def test_years_out_of_range_is_refused():
    with pytest.raises(CommandError, match="--years"):
        demo("--years", "11")
    assert not OrgUnit.objects.exists()


def test_demo_with_orders_builds_the_supply_side_before_the_assessment():
    """A year of orders: tiers recomputed and applied, classes, allocations evaluated with a planted unfair CM,
    forecasts (one run scored), alerts with referrals; the assessment's forecast accuracy then has data."""
    from cmdesk.assess.models import ScoreItem
    from cmdesk.retail.models import TierChange
    from cmdesk.supply.models import (
        Alert,
        Allocation,
        AllocationStatus,
        ForecastRun,
        Referral,
        RetailerClass,
        RunStatus,
        TierRun,
    )

    out = StringIO()
    call_command("demo", "--scale", "county", "--years", "1", "--as-of", "2026-10-31", stdout=out)
    output = out.getvalue()
    assert "supply tiers" in output and "supply alerts" in output
    run = TierRun.objects.get()
    assert run.status == RunStatus.APPLIED and run.effective.isoformat() == "2026-11-01"
    assert TierChange.objects.filter(source=TierChange.Source.RECOMPUTE).count() == run.stats["changed"] > 0
    assert RetailerClass.objects.filter(code__regex=r"^[CX][ZBSNYFQ][123]$").exists()  # the 2008 preset
    # the 4+X scheme's manual image dimension: about a fifth rated by the department's clerk, audited as the clerk
    from auditlog.models import LogEntry

    rated = RetailerClass.objects.filter(scheme__active=True).exclude(manual={})
    total = RetailerClass.objects.filter(scheme__active=True).count()
    assert 0.15 * total < rated.count() < 0.25 * total
    assert {m["image"] for m in rated.values_list("manual", flat=True)} == {"A", "B", "C"}
    entries = LogEntry.objects.filter(content_type__model="retailerclass", object_id__in=rated.values("pk"))
    assert entries.count() == rated.count()  # one each, even for 良 (the default made explicit)
    assert set(entries.values_list("actor__staff__role", flat=True)) == {"clerk"}
    assert Allocation.objects.filter(status=AllocationStatus.CLOSED).exists()
    assert "flagged CMs 1" in output
    assert ForecastRun.objects.count() == 2
    assert ForecastRun.objects.filter(metrics__realised__isnull=False).count() == 1
    assert Alert.objects.exists() and Referral.objects.count() == 3
    forecast_items = ScoreItem.objects.filter(scheme_item__metric="forecast_accuracy")
    assert forecast_items.exists() and not forecast_items.filter(measured__isnull=True).exists()
