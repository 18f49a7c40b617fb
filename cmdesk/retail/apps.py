from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RetailConfig(AppConfig):
    name = "cmdesk.retail"
    label = "retail"
    verbose_name = _("Retailers and routes")

    def ready(self) -> None:
        from cmdesk.core.audit import register

        register(self.get_model("Route"))
        register(self.get_model("RouteAssignment"))
        register(self.get_model("Retailer"), exclude_fields=["search_key", "updated_at"])
        register(self.get_model("TierChange"))
