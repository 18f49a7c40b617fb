"""Benchmark: the whole `cmdesk demo` build (records + order facts), wall time and peak memory.

Each build runs as a child process in a fresh SQLite database and data directory, so the figures are what a user sees.
The baseline, measured in the same run, is the straightforward way to store the records: one ORM save per retailer
(with the audit trail a user edit would write) for a sample, against the builder's bulk path on the same sample.

    .venv/bin/python benchmarks/bench_demo.py                 # county (3 years) and city (3 years)
    .venv/bin/python benchmarks/bench_demo.py --scale county  # one of them
Goals (issue 2): county ≤ 60 s; city with 3 years (~50 M order lines) ≤ 5 min on 2 cores with peak memory ≤ 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def run_demo(scale: str, years: int, as_of: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{scale}-") as tmp:
        env = {**os.environ, "DEBUG": "1", "CMDESK_VAR_DIR": tmp, "CMDESK_DATA_DIR": f"{tmp}/data"}
        subprocess.run([PY, "-m", "cmdesk.cli", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        proc = subprocess.run(
            [PY, "-m", "cmdesk.cli", "demo", "--scale", scale, "--years", str(years), "--as-of", as_of],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        manifest = json.loads(Path(f"{tmp}/data/demo.json").read_text(encoding="utf-8"))
        parquet = sum(p.stat().st_size for p in Path(f"{tmp}/data/orders").rglob("*.parquet")) if years else 0
        return {
            "scale": scale,
            "years": years,
            "seconds": round(seconds, 1),
            "peak_rss_mb": round(max(peak_kb, before) / 1024),
            "retailers": manifest["counts"]["retailers"],
            "order_lines": (manifest.get("orders") or {}).get("lines", 0),
            "parquet_mb": round(parquet / 2**20),
            "log_tail": proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "",
        }


BASELINE_SCRIPT = r"""
import os, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmdesk.config.settings")
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from cmdesk.core.audit import acting_as
from cmdesk.core.tests.factories import build_org_tree, RouteFactory
from cmdesk.retail.models import Retailer
from cmdesk.retail.services import search_key
tree = build_org_tree()
route = RouteFactory(org_unit=tree.area_a1)
N = int(os.environ["N"])
def make(i):
    name = f"兴旺商店{i}"
    return Retailer(licence_no=f"4331{i:08d}", shop_name=name, owner_name="王伟", market_type="rural",
                    business_format="grocery", route=route, visit_order=i, search_key=search_key(name, "王伟"))
t = time.perf_counter()
for i in range(N):  # the naive path: one validated, audited save per row
    r = make(i); r.full_clean(); r.save()
naive = time.perf_counter() - t
t = time.perf_counter()
Retailer.objects.bulk_create([make(N + i) for i in range(N)], batch_size=2000)
bulk = time.perf_counter() - t
print(naive, bulk)
"""


def baseline(n: int = 2000) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-base-") as tmp:
        env = {**os.environ, "DEBUG": "1", "CMDESK_VAR_DIR": tmp, "N": str(n)}
        out = subprocess.run([PY, "-c", BASELINE_SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        naive, bulk = map(float, out.stdout.split())
        return {"rows": n, "naive_s": round(naive, 2), "bulk_s": round(bulk, 2), "ratio": round(naive / bulk, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["county", "city", "both"], default="both")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--as-of", default="2026-10-31")
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()} python={sys.version.split()[0]}")
    base = baseline()
    print(
        f"baseline: {base['rows']} retailers, one audited save each {base['naive_s']} s; bulk path {base['bulk_s']} s "
        f"→ bulk is {base['ratio']}× faster"
    )
    scales = ["county", "city"] if args.scale == "both" else [args.scale]
    heads = ("scale", "years", "retailers", "order lines", "seconds", "lines/s", "peak MB", "parquet MB")
    print("{:<7} {:>5} {:>9} {:>12} {:>8} {:>10} {:>8} {:>10}".format(*heads))
    for scale in scales:
        r = run_demo(scale, args.years, args.as_of)
        rate = r["order_lines"] / r["seconds"] if r["seconds"] else 0
        print(
            f"{r['scale']:<7} {r['years']:>5} {r['retailers']:>9,} {r['order_lines']:>12,} {r['seconds']:>8} "
            f"{rate:>10,.0f} {r['peak_rss_mb']:>8} {r['parquet_mb']:>10}"
        )


if __name__ == "__main__":
    main()
