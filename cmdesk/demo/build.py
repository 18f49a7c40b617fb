"""The demo city: a deterministic, generated dataset calibrated to DOMAIN.md's source city (seed 001).

City scale: 9 county branches, 105 routes and CMs, 26,400 retailers, with every share DOMAIN.md lists reproduced
exactly (counts are apportioned by largest remainder, then assigned by weighted sampling without replacement, so
urban shops lean to supermarkets and POS, remote rural shops to cash). County scale: one branch with 10 routes and
the same shares over ~2,500 retailers. Order lines go to Parquet through cmdesk.demo.orders (no OLTP rows).

Personal data is invented: names, phones and licence numbers come from the seeded generator.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from cmdesk.catalog.models import PriceBand, Product, ProductStatus
from cmdesk.catalog.services import price_bands_ensure_default
from cmdesk.org.choices import CareerLevel, Education, OrgKind, Role, SkillGrade
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.org.roles import sync_role_groups
from cmdesk.retail.choices import (
    BusinessFormat,
    CreditGrade,
    MarketType,
    OrderMethod,
    RetailerStatus,
    SettlementMethod,
)
from cmdesk.retail.models import Retailer, Route, RouteAssignment, TierChange
from cmdesk.retail.services import search_key

DEMO_PASSWORD = "cmdesk-demo"

# ---- DOMAIN.md's numbers (seed 001) -------------------------------------------------------------------------------
CITY_ROUTES = 105
CITY_RETAILERS = 26_400
MAX_RETAILERS_PER_ROUTE = 415
CITY_URBAN = 9_493
FORMAT_COUNTS = {
    BusinessFormat.GROCERY: 19_483,
    BusinessFormat.TOBACCO_LIQUOR: 3_313,
    BusinessFormat.SUPERMARKET: 1_003,
    BusinessFormat.MALL: 36,
    BusinessFormat.CONVENIENCE: 1_603,
    BusinessFormat.ENTERTAINMENT: 538,
    BusinessFormat.OTHER: 424,
}
ORDER_METHOD_COUNTS = {
    OrderMethod.PHONE: 3_156,
    OrderMethod.ONLINE: 19_848,
    OrderMethod.MOBILE: 726,
    OrderMethod.OTHER: CITY_RETAILERS - 3_156 - 19_848 - 726,
}
SETTLEMENT_COUNTS = {
    SettlementMethod.ONLINE_TRANSFER: 21_854,
    SettlementMethod.POS: 1_602,
    SettlementMethod.CASH: 274,
    SettlementMethod.OTHER: CITY_RETAILERS - 21_854 - 1_602 - 274,
}
# CMs: age bands (inclusive years), education, skill grade, years as CM.
AGE_BANDS = [((24, 29), 12), ((30, 35), 11), ((36, 40), 17), ((41, 45), 28), ((46, 50), 19), ((51, 58), 18)]
EDUCATION_COUNTS = {Education.BACHELOR: 27, Education.COLLEGE: 55, Education.HIGH_SCHOOL: 23}
SKILL_COUNTS = {SkillGrade.GRADE3: 49, SkillGrade.GRADE4: 40, SkillGrade.GRADE5: 1, SkillGrade.NONE: 15}
TENURE_BANDS = [((3.05, 12.0), 58), ((1.0, 3.0), 39), ((0.1, 0.95), 8)]  # years as CM: >3, 1–3, <1
ROUTE_KM_MEAN, ROUTE_KM_MAX = 30.0, 80.0

# Nine branches; the first is the city district (mostly urban). The 10-route branch is the county-scale demo.
BRANCHES = [
    ("01", "城区分公司", 14, 0.78),
    ("02", "青溪县分公司", 13, 0.30),
    ("03", "石门县分公司", 12, 0.28),
    ("04", "龙山县分公司", 12, 0.26),
    ("05", "桃源县分公司", 11, 0.27),
    ("06", "云台县分公司", 11, 0.25),
    ("07", "白沙县分公司", 11, 0.24),
    ("08", "梅岭县分公司", 11, 0.24),
    ("09", "安平县分公司", 10, 0.30),
]
COUNTY_BRANCH = "09"
CITY_CENTRE = (27.55, 109.95)  # a hilly prefecture (75% mountains and hills)
REGION_CODE = "4331"  # licence numbers: 4-digit region + 2-digit county + 6-digit serial

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红兰文斌波辉鹏宇飞玲萍燕春梅林云峰亮")
SHOP_WORDS = list("兴旺顺发福隆昌盛鑫源佳乐惠民利群和新宏达信诚金万家康华鸿运永安富")
SHOP_SUFFIX = {
    BusinessFormat.GROCERY: ["商店", "便民店", "小卖部", "副食店", "杂货店"],
    BusinessFormat.TOBACCO_LIQUOR: ["烟酒店", "烟酒商行", "名烟名酒"],
    BusinessFormat.SUPERMARKET: ["超市", "购物中心超市", "生活超市"],
    BusinessFormat.MALL: ["百货商场", "购物广场"],
    BusinessFormat.CONVENIENCE: ["便利店", "24小时便利"],
    BusinessFormat.ENTERTAINMENT: ["宾馆", "KTV", "茶楼", "棋牌室", "网吧"],
    BusinessFormat.OTHER: ["加油站便利", "报刊亭", "药店"],
}
FLOOR_AREA = {  # m², (median, spread)
    BusinessFormat.GROCERY: (25, 0.5),
    BusinessFormat.TOBACCO_LIQUOR: (35, 0.4),
    BusinessFormat.SUPERMARKET: (180, 0.6),
    BusinessFormat.MALL: (1500, 0.5),
    BusinessFormat.CONVENIENCE: (60, 0.4),
    BusinessFormat.ENTERTAINMENT: (120, 0.6),
    BusinessFormat.OTHER: (20, 0.5),
}
FORMAT_SCALE = {  # relative purchase scale, used for tiers and order volume
    BusinessFormat.GROCERY: 1.0,
    BusinessFormat.TOBACCO_LIQUOR: 2.2,
    BusinessFormat.SUPERMARKET: 2.0,
    BusinessFormat.MALL: 2.5,
    BusinessFormat.CONVENIENCE: 1.4,
    BusinessFormat.ENTERTAINMENT: 0.8,
    BusinessFormat.OTHER: 0.6,
}


def apportion(total: int, counts: dict) -> dict:
    """Scale ``counts`` (summing to the city's total) to ``total`` by largest remainder: shares kept within rounding."""
    base = sum(counts.values())
    raw = {k: v * total / base for k, v in counts.items()}
    out = {k: math.floor(v) for k, v in raw.items()}
    short = total - sum(out.values())
    for k in sorted(raw, key=lambda k: (raw[k] - out[k], str(k)), reverse=True)[:short]:
        out[k] += 1
    return out


def assign_exact(rng: np.random.Generator, counts: dict, weights: dict[object, np.ndarray]) -> np.ndarray:
    """Give each of n items a label so that label k occurs exactly counts[k] times; items are drawn for each label
    (rarest first) by weighted sampling without replacement, so weights bias who gets it without changing how many."""
    keys = list(counts)
    n = sum(counts.values())
    index = np.full(n, -1)
    largest = max(keys, key=lambda k: counts[k])
    for k in sorted(keys, key=lambda k: counts[k]):
        idx = np.flatnonzero(index < 0)
        if k == largest:
            chosen = idx  # the largest group takes the rest
        else:
            w = np.asarray(weights.get(k, np.ones(n)), dtype=float)[idx]
            # Efraimidis–Spirakis keys: weighted sampling without replacement, vectorised.
            order = np.argsort(-(np.log(rng.random(idx.size)) / np.maximum(w, 1e-9)), kind="stable")
            chosen = idx[order[: counts[k]]]
        index[chosen] = keys.index(k)
    labels = np.empty(n, dtype=object)
    for i, k in enumerate(keys):
        mask = index == i
        labels[np.flatnonzero(mask)] = [k] * int(mask.sum())
    return labels


@dataclass
class DemoSpec:
    scale: str = "county"  # county | city
    years: int = 3
    seed: int = 20141
    as_of: dt.date = field(default_factory=dt.date.today)

    @property
    def branches(self) -> list[tuple[str, str, int, float]]:
        return BRANCHES if self.scale == "city" else [b for b in BRANCHES if b[0] == COUNTY_BRANCH]

    @property
    def routes(self) -> int:
        return sum(b[2] for b in self.branches)

    @property
    def retailers(self) -> int:
        return CITY_RETAILERS if self.scale == "city" else round(CITY_RETAILERS * self.routes / CITY_ROUTES)


@dataclass
class DemoResult:
    spec: DemoSpec
    counts: dict[str, int]
    logins: list[dict[str, str]]
    orders: dict | None = None


Progress = Callable[[str], None]


def _years_before(day: dt.date, years: float) -> dt.date:
    return day - dt.timedelta(days=round(years * 365.25))


class Builder:
    def __init__(self, spec: DemoSpec, progress: Progress | None = None):
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.progress = progress or (lambda msg: None)
        self.password_hash = make_password(DEMO_PASSWORD)  # hashed once: all demo logins share the password
        self.logins: list[dict[str, str]] = []
        self._user_seq = 0

    # ---- people ------------------------------------------------------------------------------------------------
    def person_name(self) -> str:
        given = "".join(self.rng.choice(GIVEN, size=int(self.rng.integers(1, 3))))
        return str(self.rng.choice(SURNAMES)) + given

    def new_staff(self, *, username: str, role: str, org_unit: OrgUnit, name: str | None = None, show=True, **kw):
        User = get_user_model()
        is_admin = role == Role.ADMIN
        name = name or self.person_name()
        user = User.objects.create(
            username=username, password=self.password_hash, first_name=name, is_staff=is_admin, is_superuser=is_admin
        )
        user.groups.add(self.groups[role])
        self._user_seq += 1
        staff = Staff.objects.create(
            user=user, employee_no=f"E{self._user_seq:05d}", name=name, role=role, org_unit=org_unit, **kw
        )
        if show:
            self.logins.append(
                {
                    "username": username,
                    "password": DEMO_PASSWORD,
                    "role": str(Role(role).label),
                    "org_unit": org_unit.name,
                }
            )
        return staff

    # ---- the build -----------------------------------------------------------------------------------------------
    @transaction.atomic
    def build_records(self) -> dict[str, int]:
        spec = self.spec
        self.groups = {role: g for role, g in sync_role_groups().items()}
        self.progress(f"org tree: {len(spec.branches)} branch(es)")
        city = OrgUnit.objects.new_root(code="C", name="示范市烟草公司", kind=OrgKind.CITY)
        centre = OrgUnit.objects.new_child(city, code="C-MC", name="卷烟营销中心", kind=OrgKind.CENTRE)
        for code, name in [("ZH", "综合部"), ("CG", "采供部"), ("SC", "市场部"), ("DD", "订单部")]:
            OrgUnit.objects.new_child(centre, code=f"C-MC-{code}", name=name, kind=OrgKind.CENTRE_DEPT)
        self.new_staff(username="admin", role=Role.ADMIN, org_unit=city, name="系统管理员")
        self.new_staff(username="centre", role=Role.CENTRE, org_unit=centre)

        route_specs = self._route_specs()
        cms = self._cm_profiles(len(route_specs))
        routes: list[Route] = []
        r = 0
        for b_idx, (bcode, bname, n_routes, _urban_share) in enumerate(spec.branches):
            branch = OrgUnit.objects.new_child(city, code=f"B{bcode}", name=bname, kind=OrgKind.BRANCH)
            dept = OrgUnit.objects.new_child(
                branch, code=f"B{bcode}-KF", name=bname.replace("分公司", "客户服务部"), kind=OrgKind.DEPARTMENT
            )
            n_areas = 3 if n_routes >= 12 else 2
            areas = [
                OrgUnit.objects.new_child(
                    dept, code=f"B{bcode}-A{a + 1}", name=f"{bname[:-3]}第{'一二三'[a]}片区", kind=OrgKind.AREA
                )
                for a in range(n_areas)
            ]
            first = bcode == spec.branches[0][0]
            self.new_staff(username=f"head{bcode}", role=Role.HEAD, org_unit=dept, show=True)
            self.new_staff(username=f"clerk{bcode}", role=Role.CLERK, org_unit=dept, show=first)
            self.new_staff(username=f"inspector{bcode}", role=Role.INSPECTOR, org_unit=branch, show=first)
            for i in range(n_routes):
                rs = route_specs[r]
                cm = self.new_staff(
                    username=f"cm{r + 1:03d}",
                    role=Role.CM,
                    org_unit=areas[i * n_areas // n_routes],
                    show=r < 2 or (first and i < 2),
                    **cms[r],
                )
                route = Route.objects.create(
                    code=f"X{bcode}{i + 1:02d}",
                    name=f"{bname[:-3]}{'城区' if rs['urban'] else '乡镇'}{i + 1}号线",
                    org_unit=cm.org_unit,
                    cm=cm,
                    market_type=MarketType.URBAN if rs["urban"] else MarketType.RURAL,
                    length_km=Decimal(str(rs["km"])),
                    visit_cycle_days=30,
                    order_weekdays=[rs["weekday"]],
                    delivery_weekdays=[(rs["weekday"] + 1) % 6],
                )
                RouteAssignment.objects.create(
                    route=route, cm=cm, started=max(cm.cm_since, _years_before(spec.as_of, 6))
                )
                route.branch_index = b_idx
                routes.append(route)
                r += 1
        self.progress(f"{len(routes)} routes and CMs; generating {spec.retailers} retailers")
        n_retailers = self._retailers(routes, route_specs)
        self.progress("products")
        n_products = self._products()
        return {
            "routes": len(routes),
            "cms": len(routes),
            "retailers": n_retailers,
            "products": n_products,
            "staff": Staff.objects.count(),
        }

    def _route_specs(self) -> list[dict]:
        """Per route: retailer count (mean ≈ 251, busiest 415), urban flag, length (≈30 km mean, 80 km max), weekday."""
        spec, rng = self.spec, self.rng
        n, total = spec.routes, spec.retailers
        sizes = np.clip(rng.normal(total / n, 48, n), 140, MAX_RETAILERS_PER_ROUTE - 30).round().astype(int)
        sizes[0] = MAX_RETAILERS_PER_ROUTE  # the busiest route (city district)
        rest = np.arange(1, n)
        while (diff := total - sizes.sum()) != 0:  # spread the remainder one retailer at a time, deterministically
            step = 1 if diff > 0 else -1
            pick = rest[rng.integers(0, rest.size, size=min(abs(diff), rest.size))]
            np.add.at(sizes, pick, step)
            sizes[rest] = np.clip(sizes[rest], 100, MAX_RETAILERS_PER_ROUTE - 1)
        # Urban routes: within each branch by its urban share; fill to the exact urban count with mixed routes later.
        urban_target = round(CITY_URBAN * total / CITY_RETAILERS)
        specs, r = [], 0
        for _code, _name, n_routes, share in spec.branches:
            n_urban = max(1, round(n_routes * share))
            for i in range(n_routes):
                specs.append({"size": int(sizes[r]), "urban": i < n_urban, "weekday": r % 5})
                r += 1
        urban_routes = [s for s in specs if s["urban"]]
        # adjust: too many urban retailers → demote the smallest urban routes; too few → promote rural ones
        while sum(s["size"] for s in urban_routes) > urban_target * 1.02 and len(urban_routes) > 1:
            smallest = min(urban_routes[1:], key=lambda s: s["size"])
            smallest["urban"] = False
            urban_routes.remove(smallest)
        for s in specs:
            s["urban_quota"] = s["size"] if s["urban"] else 0
        gap = urban_target - sum(s["urban_quota"] for s in specs)
        for s in sorted(
            (s for s in specs if not s["urban"]), key=lambda s: -s["size"]
        ):  # town-edge shops on rural routes
            if gap <= 0:
                break
            take = min(gap, s["size"] // 3)
            s["urban_quota"] = take
            gap -= take
        while gap < 0:  # urban routes with a rural fringe
            for s in specs:
                if s["urban"] and gap < 0:
                    take = min(-gap, s["size"] // 4)
                    s["urban_quota"] -= take
                    gap += take
        km = np.where([s["urban"] for s in specs], rng.uniform(8, 16, n), rng.gamma(4.0, 9.0, n).clip(15, ROUTE_KM_MAX))
        rural = np.flatnonzero(~np.array([s["urban"] for s in specs]))
        if rural.size:
            km[rural[np.argmax(km[rural])]] = ROUTE_KM_MAX
            # scale the other rural routes so the mean is 30 km
            others = rural[km[rural] < ROUTE_KM_MAX]
            need = ROUTE_KM_MEAN * n - km.sum() + km[others].sum()
            km[others] = (km[others] * need / km[others].sum()).clip(12, ROUTE_KM_MAX - 1)
        for s, k in zip(specs, km, strict=True):
            s["km"] = round(float(k), 1)
        return specs

    def _cm_profiles(self, n: int) -> list[dict]:
        """Ages, education, skill grade and tenure reproducing DOMAIN.md's counts (apportioned at county scale)."""
        rng, as_of = self.rng, self.spec.as_of
        age_counts = apportion(n, {band: c for band, c in AGE_BANDS})
        ages = np.concatenate([rng.integers(lo, hi + 1, size=c) for (lo, hi), c in age_counts.items()])
        rng.shuffle(ages)
        # Older CMs lean to longer tenure and higher grades; younger to more education.
        age_w = (ages - ages.min() + 1).astype(float)
        tenure_counts = apportion(n, {band: c for band, c in TENURE_BANDS})
        tenure_band = assign_exact(
            rng, tenure_counts, {band: age_w**1.5 if band[0] > 3 else 1 / age_w for band in tenure_counts}
        )
        education = assign_exact(
            rng, apportion(n, EDUCATION_COUNTS), {Education.BACHELOR: 1 / age_w, Education.HIGH_SCHOOL: age_w}
        )
        tenure = np.array([rng.uniform(lo, hi) for lo, hi in tenure_band])
        skill = assign_exact(
            rng,
            apportion(n, SKILL_COUNTS),
            {SkillGrade.GRADE3: tenure**2, SkillGrade.GRADE5: 1 / tenure, SkillGrade.NONE: 1 / tenure**2},
        )
        profiles = []
        for i in range(n):
            age = int(ages[i])
            anniversary = dt.date(as_of.year - age, as_of.month, min(as_of.day, 28))
            birth = anniversary - dt.timedelta(days=int(rng.integers(1, 364)))  # exactly `age` years old on as_of
            since = _years_before(as_of, float(tenure[i]))
            years = float(tenure[i])
            level = (
                CareerLevel.CHIEF
                if years > 10 and skill[i] == SkillGrade.GRADE3
                else CareerLevel.SENIOR
                if years > 6 and skill[i] == SkillGrade.GRADE3
                else CareerLevel.INTERMEDIATE
                if years > 3
                else CareerLevel.JUNIOR
                if years >= 1
                else CareerLevel.TRAINEE
            )
            profiles.append(
                {
                    "birth_date": birth,
                    "education": education[i],
                    "skill_grade": skill[i],
                    "cm_since": since,
                    "career_level": level,
                    "phone": f"13{rng.integers(0, 10)}{rng.integers(0, 10**8):08d}",
                }
            )
        return profiles

    def _retailers(self, routes: list[Route], route_specs: list[dict]) -> int:
        spec, rng = self.spec, self.rng
        n = spec.retailers
        route_idx = np.repeat(np.arange(len(routes)), [s["size"] for s in route_specs])
        # Urban flag: each route's urban quota, nearest-to-town first (visit order follows distance).
        pos_in_route = np.concatenate([np.arange(s["size"]) for s in route_specs])
        urban = np.concatenate([np.arange(s["size"]) < s["urban_quota"] for s in route_specs])
        # distance from the county seat along the route (km): urban shops within 4 km, rural spread over the route
        km = np.array([s["km"] for s in route_specs])[route_idx]
        frac = (pos_in_route + rng.random(n)) / np.array([s["size"] for s in route_specs])[route_idx]
        dist = np.where(urban, frac * 4.0, 2 + frac * (km / 2 - 2).clip(1))
        remote = np.where(urban, 0.0, dist / np.maximum(km / 2, 1))  # 0 near town … 1 at the end of the route
        size_w = np.where(urban, 3.0, 1.0)
        formats = assign_exact(
            rng,
            apportion(n, FORMAT_COUNTS),
            {
                BusinessFormat.MALL: np.where(urban, 40.0, 0.2),
                BusinessFormat.SUPERMARKET: np.where(urban, 4.0, 0.6),
                BusinessFormat.CONVENIENCE: np.where(urban, 5.0, 0.4),
                BusinessFormat.TOBACCO_LIQUOR: size_w,
                BusinessFormat.ENTERTAINMENT: np.where(urban, 3.0, 0.5),
            },
        )
        settlement = assign_exact(
            rng,
            apportion(n, SETTLEMENT_COUNTS),
            {
                SettlementMethod.CASH: 0.05 + remote**3,  # remote shops without a bank nearby
                SettlementMethod.POS: np.where(urban, 3.0, 0.7),
            },
        )
        order_method = assign_exact(
            rng,
            apportion(n, ORDER_METHOD_COUNTS),
            {
                OrderMethod.PHONE: 0.3 + remote * 2 + (settlement == SettlementMethod.CASH) * 3,
                OrderMethod.MOBILE: np.where(urban, 2.0, 0.8),
            },
        )
        fscale = np.array([FORMAT_SCALE[f] for f in formats])
        scale = fscale * np.where(urban, 1.3, 0.9) * rng.lognormal(0, 0.45, n)
        # 30 tiers, D30 highest: the purchase scale ranked and cut into bands (a pyramid: fewer shops at the top).
        ranks = scale.argsort().argsort() / max(n - 1, 1)
        tier = np.clip(np.floor(30 * ranks**1.4) + 1, 1, 30).astype(int)
        area = np.array([FLOOR_AREA[f][0] for f in formats]) * rng.lognormal(0, [FLOOR_AREA[f][1] for f in formats])
        credit = rng.choice(
            [CreditGrade.AAA, CreditGrade.AA, CreditGrade.A, CreditGrade.B, CreditGrade.C],
            size=n,
            p=[0.12, 0.33, 0.40, 0.12, 0.03],
        )
        start = _years_before(spec.as_of, spec.years)
        horizon = max(spec.years, 1)  # new shops open within the order history (or the last year)
        status = rng.choice(
            [RetailerStatus.NORMAL, RetailerStatus.SUSPENDED, RetailerStatus.CLOSED, RetailerStatus.CANCELLED],
            size=n,
            p=[0.955, 0.01, 0.025, 0.01],
        )
        opened_years = np.where(rng.random(n) < 0.04, rng.uniform(0.05, horizon, n), rng.uniform(horizon + 0.2, 20, n))
        # Geography: each branch's seat on a ring around the city; each route a direction out of its seat.
        n_branches = len(spec.branches)
        seats = [
            (
                CITY_CENTRE[0]
                + (0 if b == 0 and spec.scale == "city" else 0.45 * math.sin(2 * math.pi * b / n_branches)),
                CITY_CENTRE[1]
                + (0 if b == 0 and spec.scale == "city" else 0.55 * math.cos(2 * math.pi * b / n_branches)),
            )
            for b in range(n_branches)
        ]
        branch_of_route = np.array([r.branch_index for r in routes])
        angle = (np.arange(len(routes)) * 2.399963) % (2 * math.pi)  # golden-angle spread of route directions
        b_idx = branch_of_route[route_idx]
        seat_lat = np.array([s[0] for s in seats])[b_idx]
        seat_lon = np.array([s[1] for s in seats])[b_idx]
        theta = angle[route_idx] + rng.normal(0, np.where(urban, 1.2, 0.25), n)
        wobble = rng.normal(0, 0.3, n)
        lat = seat_lat + (dist * np.sin(theta) + wobble * 0.2) / 111.0
        lon = seat_lon + (dist * np.cos(theta) + wobble * 0.2) / (111.0 * math.cos(math.radians(seat_lat.mean())))
        county_code = [f"{int(b[0]):02d}" for b in spec.branches]
        serial = rng.permutation(10**6 - 10**5)[:n] + 10**5

        objs, tier_rows = [], []
        for i in range(n):
            fmt = formats[i]
            surname = str(rng.choice(SURNAMES))
            owner = surname + "".join(rng.choice(GIVEN, size=int(rng.integers(1, 3))))
            word = "".join(rng.choice(SHOP_WORDS, size=2))
            shop = (surname + "记" if rng.random() < 0.4 else word) + str(rng.choice(SHOP_SUFFIX[fmt]))
            opened = _years_before(spec.as_of, float(opened_years[i]))
            st = status[i]
            closed = None
            if st in (RetailerStatus.CLOSED, RetailerStatus.CANCELLED):
                closed = max(
                    opened + dt.timedelta(days=30), _years_before(spec.as_of, float(rng.uniform(0.05, horizon)))
                )
                closed = min(closed, spec.as_of)
            route = routes[route_idx[i]]
            objs.append(
                Retailer(
                    licence_no=f"{REGION_CODE}{county_code[b_idx[i]]}{serial[i]:06d}",
                    shop_name=shop,
                    owner_name=owner,
                    phone=f"1{rng.choice([3, 5, 7, 8, 9])}{rng.integers(0, 10**9):09d}",
                    address=f"{route.name[:2]}{'镇' if not urban[i] else '城'}{word}路{int(rng.integers(1, 300))}号",
                    latitude=Decimal(f"{lat[i]:.6f}"),
                    longitude=Decimal(f"{lon[i]:.6f}"),
                    market_type=MarketType.URBAN if urban[i] else MarketType.RURAL,
                    business_format=fmt,
                    floor_area=Decimal(f"{max(area[i], 4):.1f}"),
                    order_method=order_method[i],
                    settlement_method=settlement[i],
                    tier=int(tier[i]),
                    credit_grade=credit[i],
                    status=st,
                    route=route,
                    visit_order=int(pos_in_route[i]) + 1,
                    opened_on=opened,
                    closed_on=closed,
                    search_key=search_key(shop, owner),
                )
            )
        # Display fixtures and settlement accounts come from their own stream, so the records above (and the orders
        # built from them) are the same as before these fields existed.
        side = np.random.default_rng([spec.seed, 0xF1C7])
        fixtures = np.clip(np.round(np.log2(1 + area / 15) + side.normal(0, 0.6, n)), 0, 8).astype(int)
        accounts = side.integers(10**15, 10**16, n)
        for i, obj in enumerate(objs):
            obj.display_fixtures = int(fixtures[i])
            if obj.settlement_method != SettlementMethod.CASH:
                obj.settlement_account = f"6217{accounts[i]:016d}"[:19]
        Retailer.objects.bulk_create(objs, batch_size=2000)
        self.retailer_scale = scale
        retailers = list(Retailer.objects.order_by("id").only("id", "tier", "opened_on"))
        for r in retailers:
            tier_rows.append(
                TierChange(
                    retailer_id=r.id,
                    tier_from=None,
                    tier_to=r.tier,
                    effective=max(r.opened_on, start),
                    source=TierChange.Source.INITIAL,
                    reason="演示数据初始档位",
                )
            )
        TierChange.objects.bulk_create(tier_rows, batch_size=5000)
        self.progress(f"{n} retailers")
        return n

    def _products(self) -> int:
        rng, spec = self.rng, self.spec
        bands = price_bands_ensure_default()
        brands = [
            # (brand, manufacturer, provincial)
            ("湘岳", "本省中烟工业公司", True),
            ("白鹭", "本省中烟工业公司", True),
            ("金洞庭", "本省中烟工业公司", True),
            ("芙岭", "本省中烟工业公司", True),
            ("云峰", "云岭中烟", False),
            ("红杉", "云岭中烟", False),
            ("黄鹤岭", "江城中烟", False),
            ("钱塘", "浙东中烟", False),
            ("南海", "岭南中烟", False),
            ("长城岭", "川渝中烟", False),
            ("泰岳", "齐鲁中烟", False),
            ("黄山松", "皖南中烟", False),
            ("贵州台", "黔中中烟", False),
            ("北国", "京北卷烟", False),
        ]
        class_prices = {1: (100, 500), 2: (70, 99.5), 3: (30, 69.5), 4: (16.5, 29.5), 5: (8, 16.4)}
        class_counts = {1: 70, 2: 85, 3: 110, 4: 85, 5: 50}
        specs = ["硬", "软", "细支", "中支", "精品", "典藏", "新版", "红", "蓝", "金"]
        objs, k = [], 0
        start = _years_before(spec.as_of, spec.years)
        for cls, count in class_counts.items():
            lo, hi = class_prices[cls]
            for _ in range(count):
                b = int(rng.integers(0, len(brands)))
                if rng.random() < 0.45:  # this province's brands dominate the local market
                    b = int(rng.integers(0, 4))
                brand, maker, provincial = brands[b]
                if cls == 1:  # most 一类 sit just above 100 yuan; a few premium lines reach 400+
                    wholesale = round(float(np.clip(lo * rng.lognormal(0.3, 0.35), lo, hi)) * 2) / 2
                else:
                    wholesale = round(float(rng.uniform(lo, hi)) * 2) / 2
                k += 1
                new = rng.random() < 0.06
                launched = (
                    start + dt.timedelta(days=int(rng.integers(60, max(61, (spec.as_of - start).days - 30))))
                    if new
                    else start - dt.timedelta(days=int(rng.integers(200, 4000)))
                )
                objs.append(
                    Product(
                        code=f"6901{k:04d}{int(rng.integers(0, 10**5)):05d}",
                        name=f"{brand}({specs[int(rng.integers(0, len(specs)))]}{k})",
                        brand=brand,
                        manufacturer=maker,
                        provincial=provincial,
                        wholesale_price=Decimal(f"{wholesale:.2f}"),
                        retail_price=Decimal(f"{math.ceil(wholesale * 1.18):.2f}"),
                        price_class=PriceBand.classify(Decimal(f"{wholesale:.2f}"), bands),
                        tar_mg=Decimal(f"{rng.choice([5, 6, 8, 10, 11]):.1f}"),
                        key_brand=bool(provincial and cls <= 3 and rng.random() < 0.35) or bool(rng.random() < 0.03),
                        scarce=bool(cls <= 2 and rng.random() < 0.12),
                        launched_on=launched,
                        status=ProductStatus.DISCONTINUED if rng.random() < 0.04 else ProductStatus.ON_SALE,
                    )
                )
        Product.objects.bulk_create(objs)
        return len(objs)

    # ---- order facts ---------------------------------------------------------------------------------------------
    def build_orders(self, data_dir: Path) -> dict:
        from cmdesk.demo.orders import ProductFrame, RetailerFrame, generate_orders

        spec = self.spec
        rows = list(
            Retailer.objects.order_by("id").values_list(
                "id",
                "licence_no",
                "market_type",
                "business_format",
                "tier",
                "order_method",
                "route__order_weekdays",
                "opened_on",
                "closed_on",
            )
        )
        nat = np.datetime64("NaT")
        retailers = RetailerFrame(
            id=np.array([r[0] for r in rows], dtype=np.int64),
            licence=np.array([r[1] for r in rows], dtype=object),
            urban=np.array([r[2] == MarketType.URBAN for r in rows]),
            fmt=np.array([r[3] for r in rows], dtype=object),
            tier=np.array([r[4] or 1 for r in rows], dtype=np.int64),
            channel=np.array([r[5] for r in rows], dtype=object),
            order_weekday=np.array([(r[6] or [0])[0] for r in rows], dtype=np.int64),
            opened=np.array([np.datetime64(r[7], "D") if r[7] else np.datetime64("1990-01-01") for r in rows]),
            closed=np.array([np.datetime64(r[8], "D") if r[8] else nat for r in rows], dtype="datetime64[D]"),
        )
        prows = list(
            Product.objects.order_by("id").values_list(
                "id",
                "code",
                "price_class__rank",
                "wholesale_price",
                "provincial",
                "key_brand",
                "scarce",
                "launched_on",
            )
        )
        products = ProductFrame(
            id=np.array([p[0] for p in prows], dtype=np.int64),
            code=np.array([p[1] for p in prows], dtype=object),
            price_class=np.array([p[2] for p in prows], dtype=np.int64),
            wholesale_price=np.array([float(p[3]) for p in prows]),
            provincial=np.array([p[4] for p in prows]),
            key_brand=np.array([p[5] for p in prows]),
            scarce=np.array([p[6] for p in prows]),
            launched=np.array([np.datetime64(p[7], "D") if p[7] else np.datetime64("1990-01-01") for p in prows]),
        )

        def report(done: int, total: int, label: str) -> None:
            self.progress(f"orders {done}/{total} {label}")

        result = generate_orders(
            retailers, products, as_of=spec.as_of, years=spec.years, seed=spec.seed, out_dir=data_dir, progress=report
        )
        shared = self._share_proxy_accounts(result.anomalies)
        return {
            "lines": result.lines,
            "orders": result.orders,
            "months": len(result.months),
            "anomalies": len(result.anomalies),
            "shared_accounts": shared,
        }

    def _share_proxy_accounts(self, anomalies: list[dict]) -> int:
        """Every other planted proxy orderer (代订代结算) pays from its big partner's settlement account, as
        enforcement finds in practice; the others share nothing, so only their orders give them away."""
        proxies = sorted(
            (a for a in anomalies if a["kind"] == "proxy_ordering" and a.get("partner_retailer_id")),
            key=lambda a: a["retailer_id"],
        )
        shared = 0
        for a in proxies[::2]:
            partner = Retailer.objects.filter(pk=a["partner_retailer_id"]).values_list("settlement_account", flat=True)
            account = partner.first()
            if account:
                Retailer.objects.filter(pk=a["retailer_id"]).update(settlement_account=account)
                shared += 1
        return shared


@transaction.atomic
def clear_records() -> None:
    """Delete every record the demo creates (and the logins), children first; the schema and role groups stay."""
    from auditlog.models import LogEntry

    from cmdesk.demo.assess import clear_assess
    from cmdesk.demo.supply import clear_supply
    from cmdesk.demo.work import clear_work

    clear_supply()  # allocations, alerts and referrals protect retailers, products and staff
    clear_assess()  # assessment records protect staff, retailers and org units
    clear_work()  # work records protect staff and retailers
    TierChange.objects.all().delete()
    Retailer.objects.all().delete()
    RouteAssignment.objects.all().delete()
    Route.objects.all().delete()
    Product.objects.all().delete()
    PriceBand.objects.all().delete()
    Staff.objects.all().delete()  # career changes cascade
    get_user_model().objects.all().delete()
    OrgUnit.objects.all().delete()
    LogEntry.objects.all().delete()


def demo_exists() -> bool:
    return OrgUnit.objects.exists()


def stored_logins() -> list[dict[str, str]]:
    path = Path(settings.CMDESK_DATA_DIR) / "demo.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8")).get("logins", [])
    return []


def build_demo(spec: DemoSpec, *, data_dir: Path | None = None, progress: Progress | None = None) -> DemoResult:
    """Build the demo records in the (empty) database, then the order facts under ``data_dir``; write demo.json."""
    data_dir = Path(data_dir or settings.CMDESK_DATA_DIR)
    builder = Builder(spec, progress)
    counts = builder.build_records()
    orders = None
    if spec.years > 0:
        data_dir.mkdir(parents=True, exist_ok=True)
        orders = builder.build_orders(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    from cmdesk.demo.work import build_work_demo  # the 135 method's plans, visits and summaries

    counts["work"] = sum(
        build_work_demo(as_of=spec.as_of, seed=spec.seed, data_dir=data_dir, progress=progress).values()
    )
    manifest = {
        "scale": spec.scale,
        "years": spec.years,
        "seed": spec.seed,
        "as_of": spec.as_of.isoformat(),
        "counts": counts,
        "orders": orders,
        "logins": builder.logins,
    }
    (data_dir / "demo.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return DemoResult(spec=spec, counts=counts, logins=builder.logins, orders=orders)
