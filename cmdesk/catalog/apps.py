from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "cmdesk.catalog"
    label = "catalog"
    verbose_name = _("Products")

    def ready(self) -> None:
        from cmdesk.core.audit import register

        register(self.get_model("PriceBand"))
        register(self.get_model("Product"))
