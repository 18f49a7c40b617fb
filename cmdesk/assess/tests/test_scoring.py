"""A month scored on the work world: evidence behind every item, totals, ranks, no-data items, versions."""

from decimal import Decimal as D

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cmdesk.assess.models import Run, RunStatus, Score, ScoreItem
from cmdesk.assess.services.scoring import is_no_data, rank, rescore
from cmdesk.assess.tests.factories import default_scheme, item_of, scored_run
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_work_world()


def test_run_every_item_has_evidence_totals_and_ranks(world):
    run = scored_run(world)
    assert (run.version, run.status, run.scored_by) == (1, RunStatus.SCORED, world.head.user)
    scores = {s.cm_id: s for s in Score.objects.filter(run=run)}
    assert set(scores) == {world.cm1.pk, world.cm2.pk}  # dept A only: cm3 is in branch B
    items = list(ScoreItem.objects.filter(score__run=run))
    assert len(items) == 2 * 15
    for it in items:
        assert it.evidence, it.scheme_item.code
        assert all(e.get("url") or e.get("value") for e in it.evidence)
        assert it.rule_text
    for s in scores.values():
        assert s.total == sum(i.points for i in items if i.score_id == s.pk)
    ordered = sorted(scores.values(), key=lambda s: -s.total)
    assert [s.rank for s in ordered] == [1, 2]
    growth = item_of(run, world.cm1, "growth-rate")
    assert growth.measured == D("-5.0595")
    assert growth.points == D("0.00")  # at or below the floor of −5 %
    assert "−5" in growth.rule_text or "-5" in growth.rule_text
    assert LogEntry.objects.get_for_object(run).filter(actor=world.head.user).exists()


def test_forecast_accuracy_is_no_data(world):
    run = scored_run(world)
    fa = item_of(run, world.cm1, "forecast-accuracy")
    assert fa.measured is None and fa.points == D("0.00")
    assert is_no_data(fa)
    assert not is_no_data(item_of(run, world.cm1, "growth-rate"))


def test_second_run_refused_and_rescore_keeps_the_old(world):
    run = scored_run(world)
    with pytest.raises(ValidationError) as exc:
        scored_run(world)
    assert "month" in exc.value.message_dict
    with pytest.raises(ValidationError):
        rescore(run, world.head.user)  # still under review
    Run.objects.filter(pk=run.pk).update(status=RunStatus.CLOSED, closed_at=timezone.now())
    run.refresh_from_db()
    with pytest.raises(ValidationError):
        scored_run(world)  # closed: a correction is a re-score
    old_items = list(ScoreItem.objects.filter(score__run=run).values_list("pk", "points"))
    new = rescore(run, world.head.user)
    assert (new.version, new.supersedes_id, new.status) == (2, run.pk, RunStatus.SCORED)
    assert list(ScoreItem.objects.filter(score__run=run).values_list("pk", "points")) == old_items
    assert ScoreItem.objects.filter(score__run=new).count() == 30
    with pytest.raises(ValidationError):
        rescore(run, world.head.user)  # corrected already


def test_scope_and_permission(world):
    default_scheme()
    with pytest.raises(PermissionDenied):
        scored_run(world, user=world.cm1)  # no assess.add_run
    with pytest.raises(PermissionDenied):
        scored_run(world, unit=world.tree.branch_b)  # head of dept A: branch B is outside
    assert not Run.objects.exists()


def test_ties_share_a_rank():
    assert rank({1: D(90), 2: D(95), 3: D(90), 4: D(80)}) == {2: 1, 1: 2, 3: 2, 4: 4}
