"""Demo order-anomaly alerts: the city's default rules, detection over the last three months of the order facts, and
three referrals to the area's inspectors (one answered, one open, one overdue) so that the pages have content.

Everything goes through :mod:`cmdesk.supply.services.alerts`; the referrals are made by the retailers' own CMs.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.utils import timezone

from cmdesk.analytics.layout import m_idx, month_of_idx, order_months
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff
from cmdesk.supply.models import Alert, AlertKind, AlertStatus, ReferralOutcome
from cmdesk.supply.services import alerts as svc

MONTHS = 3


def build_alerts_demo(as_of: dt.date, seed: int) -> dict:
    from django.conf import settings

    svc.city_rules()
    last = f"{as_of:%Y-%m}"
    available = set(order_months(settings.CMDESK_DATA_DIR))
    months = [month_of_idx(i) for i in range(m_idx(last) - MONTHS + 1, m_idx(last) + 1) if month_of_idx(i) in available]
    created = 0
    for month in months:
        created += svc.detect_month(month).created
    inspected = set(Staff.objects.filter(role=Role.INSPECTOR, active=True).values_list("org_unit__path", flat=True))
    candidates = [
        a
        for a in Alert.objects.filter(
            status=AlertStatus.OPEN, retailer__isnull=False, retailer__route__cm__isnull=False
        )
        .select_related("retailer__route__cm__user", "retailer__route__org_unit", "org_unit")
        .order_by("-severity", "-period_end", "id")[:200]
        if any(a.retailer.route.org_unit.path.startswith(p) for p in inspected)
    ]
    # the rarer kinds first (a spike or a proxy makes a better example than one of the many peer-growth warnings)
    candidates.sort(key=lambda a: (a.kind == AlertKind.PEER_GROWTH, -a.severity, a.pk))
    candidates = candidates[:10]
    rng = np.random.default_rng(seed)
    picked = [candidates[i] for i in sorted(rng.choice(len(candidates), size=min(3, len(candidates)), replace=False))]
    today = timezone.localdate()
    referrals = 0
    for i, alert in enumerate(picked):
        cm_user = alert.retailer.route.cm.user
        if i == 2:  # overdue: referred two weeks ago with a deadline four days ago
            ref = svc.alert_refer(
                cm_user,
                alert,
                today - dt.timedelta(days=4),
                "请核查是否存在代订货或囤货",
                today - dt.timedelta(days=14),
            )
        else:
            ref = svc.alert_refer(cm_user, alert, None, "请协助核查订货异常", today)
        if i == 0:
            svc.referral_answer(
                ref.inspector.user,
                ref,
                ReferralOutcome.EXPLAINED,
                "实地走访：店主为婚宴集中采购，已登记说明，未发现违规。",
            )
        referrals += 1
    return {"months": len(months), "alerts": created, "referrals": referrals}
