"""`cmdesk assess`: score a month (or show the month's latest run) and print each CM's total and rank.

    cmdesk assess --month 2026-10                       # the whole city, the applicable active scheme
    cmdesk assess --month 2026-10 --scope A-D --user head-a --format json
    cmdesk assess --month 2026-10 --scope A-D --explain cm1   # one CM's items, rules and evidence

When the month is already scored for the unit, the latest run is shown (it is never scored twice; a closed run is
corrected with --rescore).
"""

from __future__ import annotations

import json
import unicodedata

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import translation

from cmdesk.assess.models import Run, Scheme, Score, ScoreItem
from cmdesk.assess.services.rules import fmt
from cmdesk.assess.services.scoring import rescore, score_month
from cmdesk.kpi.selectors import SYSTEM
from cmdesk.org.models import OrgUnit
from cmdesk.work.services.board import parse_month


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def _errors(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = "Score the monthly assessment of every CM in an org unit and print totals and ranks."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM")
        parser.add_argument("--scope", help="org unit code (default: the whole city)")
        parser.add_argument("--scheme", type=int, help="scheme id (default: the active scheme that applies)")
        parser.add_argument("--user", help="score as this user (default: the system operator)")
        parser.add_argument("--format", choices=("table", "json"), default="table")
        parser.add_argument("--explain", metavar="CM", help="print this CM's items (employee number or username)")
        parser.add_argument("--rescore", action="store_true", help="correct the month's closed run: a new version")
        parser.add_argument("--lang", default="zh-hans", help="labels: zh-hans (default) or en")

    def handle(self, *args, **o):
        with translation.override(o["lang"]):
            self._run(o)

    def _run(self, o):
        user = SYSTEM
        if o["user"]:
            try:
                user = get_user_model().objects.get(username=o["user"])
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"--user: no user {o['user']!r}") from exc
        try:
            month = parse_month(o["month"])
        except ValueError as exc:
            raise CommandError(f"--month: {exc}") from exc
        if o["scope"]:
            unit = OrgUnit.objects.filter(code=o["scope"]).first()
            if unit is None:
                raise CommandError(f"--scope: no org unit {o['scope']!r}")
        else:
            unit = OrgUnit.objects.get_root_nodes().first()
            if unit is None:
                raise CommandError("There is no org tree yet (run `cmdesk demo` or import the org units).")
        scheme = None
        if o["scheme"]:
            scheme = Scheme.objects.filter(pk=o["scheme"]).first()
            if scheme is None:
                raise CommandError(f"--scheme: no scheme {o['scheme']}")
        latest = Run.objects.filter(org_unit=unit, month=month).order_by("-version").first()
        try:
            if o["rescore"]:
                if latest is None:
                    raise CommandError(f"--rescore: {unit.code} {month:%Y-%m} has no run yet")
                run = rescore(latest, user, scheme=scheme)
            elif latest is None:
                run = score_month(scheme, unit, month, user)
            else:
                run = latest
                self.stderr.write(f"{unit.code} {month:%Y-%m} is scored already: showing version {run.version}.")
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc) or "permission denied") from exc
        if o["explain"]:
            self._explain(run, o["explain"], o["format"])
            return
        scores = list(
            Score.objects.filter(run=run).select_related("cm", "cm__org_unit").order_by("rank", "cm__employee_no")
        )
        if o["format"] == "json":
            payload = {
                "run": run.pk,
                "unit": unit.code,
                "month": f"{month:%Y-%m}",
                "version": run.version,
                "status": run.status,
                "scheme": {"id": run.scheme_id, "name": str(run.scheme)},
                "scores": [
                    {
                        "rank": s.rank,
                        "cm": s.cm.employee_no,
                        "name": s.cm.name,
                        "unit": s.cm.org_unit.code,
                        "total": str(s.total),
                    }
                    for s in scores
                ],
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1))
            return
        head = ["#", "CM", "name", "unit", "total"]
        body = [[str(s.rank), s.cm.employee_no, s.cm.name, s.cm.org_unit.code, fmt(s.total)] for s in scores]
        widths = [max([_width(h)] + [_width(r[i]) for r in body]) for i, h in enumerate(head)]
        right = [True, False, False, False, True]
        lines = [f"{unit.name} {month:%Y-%m} · {run.scheme} · v{run.version} ({run.get_status_display()})"]
        lines.append("  ".join(_pad(h, w, r) for h, w, r in zip(head, widths, right, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(_pad(v, w, r) for v, w, r in zip(row, widths, right, strict=True)) for row in body]
        lines.append(f"({len(body)} CMs)")
        self.stdout.write("\n".join(lines))

    def _explain(self, run: Run, code: str, fmt_: str) -> None:
        score = (
            Score.objects.filter(run=run)
            .filter(Q(cm__employee_no=code) | Q(cm__user__username=code))
            .select_related("cm")
            .first()
        )
        if score is None:
            raise CommandError(f"--explain: no CM {code!r} in this run")
        items = list(
            ScoreItem.objects.filter(score=score, superseded_by__isnull=True)
            .select_related("scheme_item")
            .order_by("scheme_item__position", "version")
        )
        if fmt_ == "json":
            payload = {
                "cm": score.cm.employee_no,
                "name": score.cm.name,
                "total": str(score.total),
                "rank": score.rank,
                "items": [
                    {
                        "code": i.scheme_item.code,
                        "name": i.scheme_item.name,
                        "weight": str(i.scheme_item.weight),
                        "measured": None if i.measured is None else str(i.measured),
                        "target": None if i.target is None else str(i.target),
                        "adjusted_target": None if i.adjusted_target is None else str(i.adjusted_target),
                        "adjustment": i.adjustment,
                        "points": str(i.points),
                        "rule": i.rule_text,
                        "evidence": i.evidence,
                    }
                    for i in items
                ],
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1))
            return
        lines = [f"{score.cm.name} ({score.cm.employee_no}) {run.month:%Y-%m}: {fmt(score.total)}, #{score.rank}"]
        for i in items:
            lines.append(f"- {i.scheme_item.name} [{fmt(i.points)} / {fmt(i.scheme_item.weight)}] {i.rule_text}")
            if i.adjustment:
                lines.append(f"    adjustment: {json.dumps(i.adjustment, ensure_ascii=False)}")
            for e in i.evidence:
                lines.append(f"    · {e.get('label', '')}: {e.get('value', '')} {e.get('url', '')}".rstrip())
        self.stdout.write("\n".join(lines))
