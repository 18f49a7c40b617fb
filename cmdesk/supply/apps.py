from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupplyConfig(AppConfig):
    """The supply side: tiers and the 4+X classes, allocation by tier, demand forecasts, order-anomaly alerts."""

    name = "cmdesk.supply"
    label = "supply"
    verbose_name = _("Supply")

    def ready(self) -> None:
        from cmdesk.core.audit import register

        for name in (
            "TierScheme",
            "TierRun",
            "ClassScheme",
            "RetailerClass",
            "Allocation",
            "AllocationTier",
            "AllocationLine",
            "AllocationAdjustment",
            "ForecastRun",
            "AlertRules",
            "Alert",
            "Referral",
        ):
            register(self.get_model(name))
