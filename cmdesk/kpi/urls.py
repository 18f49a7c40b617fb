from django.urls import path

from . import views

app_name = "kpi"
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("explore/", views.ExplorerView.as_view(), name="explore"),
    path("export.xlsx", views.ExportView.as_view(), name="export"),
]
