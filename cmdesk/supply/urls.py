from django.urls import path
from django.views.generic import RedirectView

from .views import alerts, allocation, classes, forecasts, tiers

app_name = "supply"

urlpatterns = [
    path("", RedirectView.as_view(url="alerts/", permanent=False), name="index"),
    *tiers.urlpatterns,
    *classes.urlpatterns,
    *allocation.urlpatterns,
    *forecasts.urlpatterns,
    *alerts.urlpatterns,
]
