from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles(sender, apps=None, **kwargs) -> None:
    from django.apps import apps as global_apps

    # post_migrate is sent once per app; act on the last one, when every app's permissions exist.
    last = [c for c in global_apps.get_app_configs() if c.models_module is not None][-1]
    if sender.label != last.label:
        return
    from .roles import sync_role_groups

    sync_role_groups()


class OrgConfig(AppConfig):
    name = "cmdesk.org"
    label = "org"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from cmdesk.core.audit import register

        register(self.get_model("OrgUnit"), exclude_fields=["depth", "numchild"])
        register(self.get_model("Staff"))
        register(self.get_model("CareerLevelChange"))
        # Infrastructure, not business logic: the role groups must exist on every migrated database.
        post_migrate.connect(_sync_roles, dispatch_uid="cmdesk_sync_roles")
