"""`cmdesk tiers`: recompute the tiers (档位) of an org unit's retailers, apply a run, or show a scheme.

    cmdesk tiers recompute --scope A --as-of 2026-10-31            # a draft run over the scheme's trailing window
    cmdesk tiers recompute --scope A --as-of 2026-10-31 --apply    # … and apply it (writes tiers and TierChanges)
    cmdesk tiers apply 12                                           # apply draft run 12
    cmdesk tiers scheme --scope A                                   # the scheme that applies, in plain words

The command acts as the system (no user): applying does not need the centre's permission here.
"""

from __future__ import annotations

import datetime as dt
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from cmdesk.org.models import OrgUnit
from cmdesk.supply.models import TierRun
from cmdesk.supply.services import tiers as svc


def _unit(code: str | None) -> OrgUnit:
    if code:
        unit = OrgUnit.objects.filter(code=code).first()
        if unit is None:
            raise CommandError(f"--scope: no org unit {code!r}")
        return unit
    unit = OrgUnit.objects.get_root_nodes().first()
    if unit is None:
        raise CommandError("There is no org tree yet (run `cmdesk demo` or import the org units).")
    return unit


class Command(BaseCommand):
    help = "Recompute retailer tiers over the trailing window, apply a run, or show the scheme."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rec = sub.add_parser("recompute", help="score the retailers of an org unit and store a draft run")
        rec.add_argument("--scope", help="org unit code (default: the whole city)")
        rec.add_argument("--as-of", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD: the window's end")
        rec.add_argument("--effective", type=dt.date.fromisoformat, help="YYYY-MM-DD (default: after the window)")
        rec.add_argument("--apply", action="store_true", help="apply the run at once")
        app = sub.add_parser("apply", help="apply a draft run")
        app.add_argument("run", type=int)
        sch = sub.add_parser("scheme", help="print the scheme that applies to an org unit")
        sch.add_argument("--scope")
        for p in (rec, app, sch):
            p.add_argument("--lang", default="zh-hans", help="reasons and messages: zh-hans (default) or en")

    def handle(self, *args, **o):
        with translation.override(o["lang"]):
            try:
                getattr(self, f"_{o['action']}")(o)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc

    def _recompute(self, o):
        unit = _unit(o["scope"])
        started = time.perf_counter()
        run = svc.recompute(unit, o["as_of"], None, effective=o["effective"])
        seconds = time.perf_counter() - started
        self._print_run(run, seconds)
        if o["apply"]:
            self._apply_run(run)

    def _apply(self, o):
        run = TierRun.objects.filter(pk=o["run"]).first()
        if run is None:
            raise CommandError(f"no tier run {o['run']}")
        self._apply_run(run)

    def _apply_run(self, run: TierRun) -> None:
        started = time.perf_counter()
        run = svc.apply_run(run, None)
        self.stdout.write(
            f"run {run.pk} applied in {time.perf_counter() - started:.1f}s: {run.stats.get('changed', 0)} tiers "
            f"changed, effective {run.effective}"
        )

    def _scheme(self, o):
        unit = _unit(o["scope"])
        scheme = svc.scheme_for(unit)
        self.stdout.write(f"{scheme.name} ({unit.name})")
        self.stdout.write(svc.scheme_text(scheme, unit.name))

    def _print_run(self, run: TierRun, seconds: float) -> None:
        s = run.stats
        self.stdout.write(
            f"run {run.pk} (draft) for {run.org_unit.name}, window {run.window_start} – {run.window_end}, effective "
            f"{run.effective}, in {seconds:.1f}s: {s['retailers']} retailers, {s['scored']} scored, {s['new']} new; "
            f"up {s['up']}, down {s['down']}, unchanged {s['unchanged']}, first tier {s['first']}, capped {s['capped']}"
        )
