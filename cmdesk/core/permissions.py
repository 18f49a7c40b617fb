"""API permission: kept apart from the viewsets because DRF imports it while its own views module loads."""

from rest_framework import permissions

from .scope import has_model_perm

METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def request_action(view, request) -> str:
    """The model action a request needs: the viewset's `action_permissions` for custom actions, else by method."""
    custom = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
    return custom or METHOD_ACTIONS.get(request.method, "view")


class ModelActionPermission(permissions.BasePermission):
    """Authenticated, and the role holds the model permission for the method's action."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        queryset = getattr(view, "queryset", None)
        if queryset is None:
            return True
        return has_model_perm(request.user, queryset.model, request_action(view, request))
