"""What every page view does around a service call: check the model permission, turn the service's answers into a 404
(out of scope) or a message (a refusal that names what is wrong)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest

from .exceptions import OutOfScope
from .scope import has_model_perm


def need_perm(request: HttpRequest, model: type, action: str = "view") -> None:
    """403 unless the user's role may ``action`` on ``model`` at all (scope is checked by the querysets)."""
    if not has_model_perm(request.user, model, action):
        raise PermissionDenied


def call_service(request: HttpRequest, fn, *args, success: str = "", **kwargs) -> Any:
    """Run a service: out of scope is a 404, a refusal a message (None is returned), success an optional message."""
    try:
        result = fn(*args, **kwargs)
    except OutOfScope as exc:
        raise Http404 from exc
    except ValidationError as error:
        messages.error(request, " ".join(str(m) for m in error.messages))
        return None
    if success:
        messages.success(request, success)
    return result
