from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


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
