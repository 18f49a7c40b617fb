from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _default_checklist(sender, **kwargs) -> None:
    if sender.label == "work":
        from .checklist import ensure_default_checklist

        ensure_default_checklist()


class WorkConfig(AppConfig):
    """The "135" work method: monthly plans, weekly arrangements, daily visits, weekly/monthly/annual summaries."""

    name = "cmdesk.work"
    label = "work"
    verbose_name = _("Work method (135)")

    def ready(self) -> None:
        from cmdesk.core.audit import register

        for name in (
            "WorkRules",
            "DeptTarget",
            "MonthlyPlan",
            "PlanRouteTarget",
            "PlanBrandTarget",
            "PlanFocusRetailer",
            "WeekArrangement",
            "PlannedVisit",
            "ChecklistItem",
            "Visit",
            "VisitCheck",
            "Feedback",
            "RetailerUpdate",
            "Summary",
        ):
            register(self.get_model(name))
        register(self.get_model("VisitPhoto"), exclude_fields=["image"])
        # reference data every database needs (like the role groups): recreated after migrate and test flushes
        post_migrate.connect(_default_checklist, sender=self, dispatch_uid="cmdesk_default_checklist")
