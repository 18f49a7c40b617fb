from django.urls import path

from . import views

app_name = "retail"

urlpatterns = [
    path("retailers/", views.RetailerListView.as_view(), name="retailer_list"),
    path("retailers/add/", views.RetailerEditView.as_view(), name="retailer_add"),
    path("retailers/<int:pk>/", views.RetailerDetailView.as_view(), name="retailer_detail"),
    path("retailers/<int:pk>/edit/", views.RetailerEditView.as_view(), name="retailer_edit"),
    path("routes/", views.RouteListView.as_view(), name="route_list"),
    path("routes/add/", views.RouteEditView.as_view(), name="route_add"),
    path("routes/<int:pk>/", views.RouteDetailView.as_view(), name="route_detail"),
    path("routes/<int:pk>/edit/", views.RouteEditView.as_view(), name="route_edit"),
    path("routes/<int:pk>/assign/", views.RouteAssignView.as_view(), name="route_assign"),
]
