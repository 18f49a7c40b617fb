from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from cmdesk.assess.api import runs as assess_runs
from cmdesk.assess.api import schemes as assess_schemes
from cmdesk.assess.api import spotchecks as assess_spotchecks
from cmdesk.catalog.api.views import PriceBandViewSet, ProductViewSet
from cmdesk.kpi.api import IndicatorListView, KpiView
from cmdesk.org.api.views import OrgUnitViewSet, StaffViewSet
from cmdesk.retail.api.views import RetailerViewSet, RouteViewSet
from cmdesk.supply.api import alerts as supply_alerts
from cmdesk.supply.api import allocation as supply_allocation
from cmdesk.supply.api import classes as supply_classes
from cmdesk.supply.api import forecasts as supply_forecasts
from cmdesk.supply.api import tiers as supply_tiers
from cmdesk.work.api import board as work_board
from cmdesk.work.api import plans as work_plans
from cmdesk.work.api import summaries as work_summaries
from cmdesk.work.api import visits as work_visits

router = DefaultRouter()
router.register("org-units", OrgUnitViewSet, basename="orgunit")
router.register("staff", StaffViewSet, basename="staff")
router.register("routes", RouteViewSet, basename="route")
router.register("retailers", RetailerViewSet, basename="retailer")
router.register("products", ProductViewSet, basename="product")
router.register("price-classes", PriceBandViewSet, basename="priceband")
WORK_API = (
    work_plans,
    work_visits,
    work_summaries,
    work_board,
    assess_runs,
    assess_schemes,
    assess_spotchecks,
    supply_tiers,
    supply_classes,
    supply_allocation,
    supply_forecasts,
    supply_alerts,
)
for part in WORK_API:
    part.register(router)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("kpi/", KpiView.as_view(), name="kpi"),
    path("kpi/indicators/", IndicatorListView.as_view(), name="kpi-indicators"),
    *[p for part in WORK_API for p in part.urlpatterns],
    path("", include(router.urls)),
]
