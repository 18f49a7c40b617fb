from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "cmdesk.sales"
    label = "sales"
    verbose_name = _("Sales data")

    def ready(self) -> None:
        from cmdesk.core.audit import register

        # progress and the error list change often or are large; the audit keeps who ran what and its outcome
        register(self.get_model("OrderImport"), exclude_fields=["errors", "progress", "progress_message", "updated_at"])
