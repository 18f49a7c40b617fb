from django.urls import path
from django.views.generic import RedirectView

from .views import runs, schemes, spotchecks

app_name = "assess"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="assess:run_list", permanent=False), name="index"),
    *runs.urlpatterns,
    *spotchecks.urlpatterns,
    *schemes.urlpatterns,
]
