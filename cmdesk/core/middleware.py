"""Request id: every request gets one (or keeps the caller's), so audit rows of one request can be grouped."""

import uuid

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request.META.get(META_KEY, "")[:64] or uuid.uuid4().hex
        request.META[META_KEY] = rid
        request.request_id = rid
        response = self.get_response(request)
        response[HEADER] = rid
        return response
