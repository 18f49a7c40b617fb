"""API base: permissions from the role's model permissions, rows from restrict(), and service errors as 400s.

Every viewset's queryset is `Model.objects.restrict(request.user, action)` with the action taken from the HTTP method,
so an object outside the caller's scope answers 404 exactly as a missing one does.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, viewsets

from .exceptions import OutOfScope
from .permissions import request_action


def as_drf_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(
            {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
        )
    return exceptions.ValidationError({"non_field_errors": exc.messages})


class ServiceMixin:
    """For viewsets that call services: out of scope is a 404, a refusal a 400 naming the fields."""

    def handle_service(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OutOfScope as exc:
            raise Http404 from exc
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc

    def body(self, serializer_class):
        """The request body validated by ``serializer_class`` (400 with the field errors otherwise)."""
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data


class RestrictedModelViewSet(ServiceMixin, viewsets.ModelViewSet):
    """A model viewset whose rows are always restricted to the caller's scope for the request's action."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        action = request_action(self, self.request)
        return self.queryset.model.objects.restrict(self.request.user, action).select_related(*self.select_related)

    select_related: tuple[str, ...] = ()
    action_permissions: dict[str, str] = {}  # custom action → model action ("assign": "change")
