from django.urls import path

from . import views

app_name = "sales"

urlpatterns = [
    path("imports/", views.OrderImportListView.as_view(), name="orderimport_list"),
    path("imports/new/", views.OrderImportCreateView.as_view(), name="orderimport_add"),
    path("imports/<int:pk>/", views.OrderImportDetailView.as_view(), name="orderimport_detail"),
    path("imports/<int:pk>/errors.xlsx", views.OrderImportErrorsView.as_view(), name="orderimport_errors"),
]
