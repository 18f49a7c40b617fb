"""Demo records of the monthly assessment: the default scheme, the last quarter's spot checks, and the last complete
month scored for every department through the real services (so every point has its evidence).

In the first department the run is published: its first CM has signed every item but one, which it appealed; the
second CM has signed everything; the others have not signed yet. The other departments' runs are scored and await
the head's review. Runs after the KPI aggregates are refreshed (the scoring reads them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db import transaction

from cmdesk.assess.models import Appeal, Run, Scheme, SchemeItem, Score, ScoreItem, SpotCheck, SpotFinding
from cmdesk.assess.services.review import appeal_item, current_items, publish_run, sign_item
from cmdesk.assess.services.schemes import default_scheme
from cmdesk.assess.services.scoring import is_no_data, score_month
from cmdesk.assess.services.spotchecks import FindingInput, quarter_publish, quarter_start, spotcheck_record
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.models import Retailer

CHECKS_PER_DEPARTMENT = 6
CATEGORIES = ("price_tags", "display", "terminal", "satisfaction", "key_brands", "info")


def clear_assess() -> None:
    """Delete the assessment records (they protect staff, retailers and org units)."""
    Appeal.objects.all().delete()
    ScoreItem.objects.update(superseded_by=None)
    ScoreItem.objects.all().delete()
    Score.objects.all().delete()
    Run.objects.update(supersedes=None)
    Run.objects.all().delete()
    SchemeItem.objects.all().delete()
    Scheme.objects.all().delete()
    SpotFinding.objects.all().delete()
    SpotCheck.objects.all().delete()


def _spot_checks(centre: Any, as_of: dt.date, rng: np.random.Generator) -> int:
    """A few checks per department in the quarter before ``as_of``'s, some findings not in order; published."""
    quarter = quarter_start(quarter_start(as_of) - dt.timedelta(days=1))
    made = 0
    for dept in OrgUnit.objects.filter(kind=OrgKind.DEPARTMENT).order_by("path"):
        shops = list(
            Retailer.objects.filter(
                route__org_unit__path__startswith=dept.path, route__cm__isnull=False, status="normal"
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not shops:
            continue
        for pick in rng.choice(len(shops), size=min(CHECKS_PER_DEPARTMENT, len(shops)), replace=False):
            day = quarter + dt.timedelta(days=int(rng.integers(5, 80)))
            findings = []
            for category in CATEGORIES:
                bad = rng.random() < 0.2
                if category == "satisfaction":
                    findings.append(FindingInput(category, ok=not bad, score=2 if bad else int(rng.integers(3, 6))))
                else:
                    findings.append(FindingInput(category, ok=not bad, note="抽查发现问题" if bad else ""))
            spotcheck_record(actor=centre, retailer=int(shops[int(pick)]), date=day, findings=findings)
            made += 1
    quarter_publish(actor=centre, quarter=quarter)
    return made


def build_assess_demo(*, as_of: dt.date, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed + 5)
    month = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # the last complete month
    centre = Staff.objects.filter(role=Role.CENTRE, active=True).select_related("user").order_by("id").first()
    if centre is None:
        return {}
    with transaction.atomic():
        default_scheme(user=centre.user)
        checks = _spot_checks(centre.user, as_of, rng)
    runs = scored = 0
    for n, dept in enumerate(OrgUnit.objects.filter(kind=OrgKind.DEPARTMENT).order_by("path")):
        head = Staff.objects.filter(role=Role.HEAD, org_unit=dept, active=True).select_related("user").first()
        if head is None:
            continue
        run = score_month(None, dept, month, head.user, today=as_of)
        runs += 1
        scored += run.scores.count()
        if n == 0:
            publish_run(run, head.user)
            for k, score in enumerate(run.scores.select_related("cm__user").order_by("cm__employee_no")[:2]):
                items = list(current_items(score))
                for i, item in enumerate(items):
                    if k == 0 and i == 0:
                        appeal_item(item, score.cm.user, "本月有 3 户零售户临时停业, 请核减目标。")
                    elif is_no_data(item):
                        continue  # awaits the head's manual rating before anyone signs it
                    else:
                        sign_item(item, score.cm.user)
    return {"spot_checks": checks, "runs": runs, "scores": scored}
