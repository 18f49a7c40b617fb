import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cmdesk.assess.models import Run
from cmdesk.assess.tests.factories import default_scheme
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db


def run_cli(*args):
    out, err = StringIO(), StringIO()
    call_command("assess", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_cli_scores_prints_and_explains():
    w = build_work_world()
    default_scheme()
    out, _ = run_cli("--month", "2026-10", "--scope", w.tree.dept_a.code)  # the system operator
    assert "cm1" in out and "cm2" in out and "cm3" not in out
    assert "(2 CMs)" in out
    run = Run.objects.get()
    assert Run.objects.get().scored_by is None
    out, err = run_cli(
        "--month", "2026-10", "--scope", w.tree.dept_a.code, "--format", "json", "--user", w.head.user.username
    )
    data = json.loads(out)
    assert data["run"] == run.pk and "scored already" in err
    assert [s["rank"] for s in data["scores"]] == sorted(s["rank"] for s in data["scores"])
    assert {s["cm"] for s in data["scores"]} == {"cm1", "cm2"}
    out, _ = run_cli("--month", "2026-10", "--scope", w.tree.dept_a.code, "--explain", "cm1", "--format", "json")
    data = json.loads(out)
    assert len(data["items"]) == 15
    growth = next(i for i in data["items"] if i["code"] == "growth-rate")
    assert growth["measured"] == "-5.0595"
    assert growth["evidence"][0]["url"].startswith("/kpi/explore/")
    out, _ = run_cli("--month", "2026-10", "--scope", w.tree.dept_a.code, "--explain", "cm1")
    assert "/kpi/explore/" in out


def test_cli_errors():
    w = build_work_world(orders=False)
    default_scheme()
    with pytest.raises(CommandError, match="--user"):
        run_cli("--month", "2026-10", "--user", "nobody")
    with pytest.raises(CommandError, match="--scope"):
        run_cli("--month", "2026-10", "--scope", "NOPE")
    with pytest.raises(CommandError, match="--month"):
        run_cli("--month", "2026-13x")
    with pytest.raises(CommandError, match="outside your scope"):
        run_cli("--month", "2026-10", "--scope", w.tree.branch_b.code, "--user", w.head.user.username, "--lang", "en")
