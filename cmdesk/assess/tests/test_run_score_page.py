"""Scoring a month from the run list page: a head scores its department, sees the run; scoring again is refused with
a message; a CM cannot score; a unit outside the head's scope is a 404."""

from __future__ import annotations

import pytest
from django.contrib import messages
from django.urls import reverse

from cmdesk.assess.models import Run, RunStatus, ScoreItem
from cmdesk.assess.services.schemes import default_scheme
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db


def test_head_scores_its_department_from_the_page(client):
    w = build_work_world()
    default_scheme()
    client.force_login(w.head.user)
    page = client.get(reverse("assess:run_list"))
    assert page.status_code == 200
    assert [u.pk for u in page.context["score_units"]] == [w.tree.dept_a.pk]  # its department only

    response = client.post(reverse("assess:run_score"), {"org_unit": w.tree.dept_a.pk, "month": "2026-10"})
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("assess:run_detail", args=[run.pk])
    assert (run.org_unit, f"{run.month:%Y-%m}", run.status) == (w.tree.dept_a, "2026-10", RunStatus.SCORED)
    assert sorted(run.scores.values_list("cm__employee_no", flat=True)) == ["cm1", "cm2"]
    items = ScoreItem.objects.filter(score__run=run)
    assert items.count() == 2 * 15 and all(item.evidence for item in items)

    again = client.post(reverse("assess:run_score"), {"org_unit": w.tree.dept_a.pk, "month": "2026-10"}, follow=True)
    notes = list(again.context["messages"])  # the first scoring's success, then this one's refusal
    assert Run.objects.count() == 1 and [m.level for m in notes] == [messages.SUCCESS, messages.ERROR]

    outside = client.post(reverse("assess:run_score"), {"org_unit": w.tree.dept_b.pk, "month": "2026-10"})
    assert outside.status_code == 404

    client.force_login(w.cm1.user)
    assert (
        client.post(reverse("assess:run_score"), {"org_unit": w.tree.dept_a.pk, "month": "2026-10"}).status_code == 403
    )
    assert "score_units" not in client.get(reverse("assess:run_list")).context
