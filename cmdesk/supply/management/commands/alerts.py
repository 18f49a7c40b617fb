"""`cmdesk alerts`: detect order anomalies, measure the detectors against planted anomalies, remind overdue referrals.

    cmdesk alerts detect --month 2026-10 [--scope CODE]      # upsert the month's alerts (idempotent)
    cmdesk alerts evaluate [--data-dir DIR] [--from 2024-01 --to 2026-10] [--preset province]
    cmdesk alerts remind                                      # reminders for overdue referrals

``detect`` judges each retailer by the rules of its nearest unit with own rules (else the scope's) and prints, per
rules row, the retailers it judged and the alerts it gave, then the extra detector runs the own rules needed.

``evaluate`` detects every month of the data (without writing alerts; each retailer judged as ``detect`` does, or
every retailer by ``--preset``) and prints precision and recall against the
planted anomalies in ``DIR/anomalies.json``. An alert matches when it is of the anomaly's family (spike ↔
order_spike/month_spike, collapse ↔ collapse/peer_growth, proxy_ordering ↔ proxy/shared_account/above_tier), on the
same retailer, and its period overlaps the anomaly's dates. Every other retailer alert counts as a false positive,
although the data have natural noise (ordinary big orders, skipped weeks) that no one planted; brand alerts have no
retailer and are not counted. The detectors never read anomalies.json.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from cmdesk.analytics import anomaly
from cmdesk.analytics.layout import m_idx, month_of_idx, order_months
from cmdesk.supply.models import AlertPreset
from cmdesk.supply.services import alerts as svc


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _rules_label(rules) -> str:
    unit = rules.org_unit
    return "city default" if unit is None else f"{unit.name} ({unit.code})"


class Command(BaseCommand):
    help = "Detect order anomalies for a month, evaluate the detectors on planted anomalies, or send reminders."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        det = sub.add_parser("detect", help="detect a month's anomalies and store them as alerts")
        det.add_argument("--month", required=True, help="YYYY-MM")
        det.add_argument("--scope", help="org unit code (default: the whole city)")
        ev = sub.add_parser("evaluate", help="precision and recall against DIR/anomalies.json")
        ev.add_argument("--data-dir", type=Path, help="order facts and anomalies.json (default: CMDESK_DATA_DIR)")
        ev.add_argument("--from", dest="first", help="first month YYYY-MM (default: the 4th month of the data)")
        ev.add_argument("--to", dest="last", help="last month YYYY-MM (default: the last month of the data)")
        ev.add_argument("--scope", help="org unit code (default: the whole city)")
        ev.add_argument("--preset", choices=AlertPreset.values, help="evaluate with a preset's thresholds")
        sub.add_parser("remind", help="reminders for overdue referrals")
        for p in (det, ev):
            p.add_argument("--lang", default="zh-hans", help="alert texts: zh-hans (default) or en")

    def handle(self, *args, **o):
        with translation.override(o.get("lang") or "zh-hans"):
            try:
                getattr(self, f"_{o['action']}")(o)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc

    def _detect(self, o) -> None:
        report = svc.detect_month(o["month"], o.get("scope"))
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.by_kind.items())) or "none"
        self.stdout.write(
            f"{report.month} over {report.unit.name}: {report.lines} order lines, {sum(report.by_kind.values())} "
            f"alerts ({kinds}); {report.created} new, {report.updated} updated, {report.unchanged} unchanged; "
            f"{report.seconds:.1f} s"
        )
        self.stdout.write(
            "rules: "
            + "; ".join(f"{_rules_label(u.rules)}: {u.retailers} retailers, {u.alerts} alerts" for u in report.rules)
        )
        if report.deferred:
            self.stdout.write(
                f"{report.month} is still in progress: {', '.join(report.deferred)} wait until it is over"
            )
        if report.screened:
            self.stdout.write("screened: " + ", ".join(f"{k} {n}" for k, n in sorted(report.screened.items())))
        for run in report.runs:
            screened = ", ".join(f"{k} {n}" for k, n in sorted(run.screened.items())) or "none"
            self.stdout.write(
                f"run under {', '.join(_rules_label(r) for r in run.rules)}: {run.retailers} retailers "
                f"({', '.join(run.kinds)}), {run.seconds:.1f} s; screened: {screened}"
            )

    def _remind(self, o) -> None:
        self.stdout.write(f"{svc.remind_overdue()} reminders for overdue referrals")

    def _evaluate(self, o) -> None:
        data_dir = Path(o.get("data_dir") or settings.CMDESK_DATA_DIR)
        planted_file = data_dir / "anomalies.json"
        if not planted_file.is_file():
            raise CommandError(f"{planted_file}: no planted anomalies to evaluate against")
        try:
            planted = [
                anomaly.Planted(
                    a["kind"], int(a["retailer_id"]), dt.date.fromisoformat(a["start"]), dt.date.fromisoformat(a["end"])
                )
                for a in json.loads(planted_file.read_text())
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{planted_file}: not a list of planted anomalies ({exc})") from exc
        months = order_months(data_dir)
        if not months:
            raise CommandError(f"{data_dir}: no order files")
        first = svc.parse_month(o["first"]) if o.get("first") else months[min(anomaly.HISTORY_MONTHS, len(months) - 1)]
        # by default up to the last month that is over (a month in progress has no whole-month rules yet)
        # every month but the newest has a later one in the store; the newest is over once the calendar passed it
        complete = set(months[:-1]) | {m for m in months[-1:] if svc.month_complete(m, data_dir)}
        last = svc.parse_month(o["last"]) if o.get("last") else max(complete or months)
        wanted = [month_of_idx(i) for i in range(m_idx(first), m_idx(last) + 1)]
        missing = [m for m in wanted if m not in months]
        if missing:
            raise CommandError(f"no order file for {', '.join(missing)} in {data_dir}")
        # only anomalies that overlap the evaluated months can be found
        lo, hi = anomaly.month_bounds(first)[0], anomaly.month_bounds(last)[1]
        outside = [p for p in planted if p.end < lo or p.start > hi]
        planted = [p for p in planted if not (p.end < lo or p.start > hi)]
        unit = svc.scope_unit(o.get("scope"))
        rules = svc.rules_for(unit)
        t0 = time.perf_counter()
        pop = svc.population(unit)
        findings: list[anomaly.Finding] = []
        screened: Counter = Counter()
        if o.get("preset"):
            # one preset's thresholds for every retailer of the scope, whatever rules the units have
            preset = o["preset"]
            th = svc.thresholds(rules)
            th = anomaly.Thresholds(**{**th.__dict__, **{k: float(v) for k, v in svc.PRESETS[preset].items()}})
            for month in wanted:
                det = anomaly.detect(data_dir, month, pop.retailers, pop.products, th, complete=month in complete)
                findings += det.findings
                screened += det.screened
        else:
            # as detection does: each retailer judged by the rules of its nearest unit with own rules
            plan = svc.rules_plan(unit, pop)
            preset = "; ".join(f"{_rules_label(row)} ({row.preset})" for row in [plan.scope_rules, *plan.own])
            for month in wanted:
                det, found, _runs = svc.detect_by_rules(month, pop, plan, data_dir, complete=month in complete)
                findings += [f for f, _owner in found]
                screened += det.screened
        seconds = time.perf_counter() - t0
        ev = anomaly.evaluate(findings, planted)
        out = self.stdout.write
        out(
            f"Evaluated {first}..{last} ({len(wanted)} months) over {unit.name} ({pop.retailers.num_rows} retailers), "
            f"rules: {preset}, {seconds:.1f} s"
        )
        out(f"{'alert kind':<16}{'alerts':>8}{'matched':>9}{'precision':>11}")
        for kind in anomaly.KINDS:
            if kind in (anomaly.BRAND_MONTH, anomaly.DAY_SHARE):
                continue
            out(f"{kind:<16}{ev.alerts[kind]:>8}{ev.matched[kind]:>9}{_pct(ev.precision(kind)):>11}")
        out(f"{'all':<16}{sum(ev.alerts.values()):>8}{sum(ev.matched.values()):>9}{_pct(ev.precision()):>11}")
        # peer_growth is the province's attention rule for the CM: shown apart as well, since it dominates the count
        n = sum(ev.alerts.values()) - ev.alerts[anomaly.PEER_GROWTH]
        k = sum(ev.matched.values()) - ev.matched[anomaly.PEER_GROWTH]
        out(f"{'all but peer':<16}{n:>8}{k:>9}{_pct(k / n if n else None):>11}")
        out(f"{'planted kind':<16}{'planted':>8}{'found':>9}{'recall':>11}")
        if outside:
            out(f"({len(outside)} planted outside {first}..{last} left out)")
        in_progress = [m for m in wanted if m not in complete]
        if in_progress:
            out(f"({', '.join(in_progress)} still in progress: only the rules of single orders and order patterns)")
        for kind in anomaly.FAMILIES:
            out(f"{kind:<16}{ev.planted[kind]:>8}{ev.found[kind]:>9}{_pct(ev.recall(kind)):>11}")
        out(f"{'all':<16}{sum(ev.planted.values()):>8}{sum(ev.found.values()):>9}{_pct(ev.recall()):>11}")
        brand = Counter(f.kind for f in findings if f.retailer_id is None)
        out(f"brand alerts (not counted): {', '.join(f'{k} {n}' for k, n in sorted(brand.items())) or 'none'}")
        out(f"screened: {', '.join(f'{k} {n}' for k, n in sorted(screened.items())) or 'none'}")
        for p in ev.missed:
            out(f"missed: {p.kind} retailer {p.retailer_id} {p.start}..{p.end}")
