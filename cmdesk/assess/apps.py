from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssessConfig(AppConfig):
    """The monthly assessment: schemes, runs scored from data with evidence, review, sign-off, appeals, spot checks."""

    name = "cmdesk.assess"
    label = "assess"
    verbose_name = _("Assessment")

    def ready(self) -> None:
        from cmdesk.core.audit import register

        for name in ("Scheme", "SchemeItem", "Run", "Score", "ScoreItem", "Appeal", "SpotCheck", "SpotFinding"):
            register(self.get_model(name))
