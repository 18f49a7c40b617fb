"""API: forecasts under /api/supply/ (filled in by its owner)."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""


urlpatterns: list = []
