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
