from django.core.exceptions import PermissionDenied


class OutOfScope(PermissionDenied):
    """The object is not inside the actor's scope for this action. Views answer 404, as for a missing object."""
