from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("cmdesk.config.api_urls")),
    path("", include("cmdesk.core.urls")),
    path("org/", include("cmdesk.org.urls")),
    path("retail/", include("cmdesk.retail.urls")),
    path("catalog/", include("cmdesk.catalog.urls")),
    path("sales/", include("cmdesk.sales.urls")),
    path("kpi/", include("cmdesk.kpi.urls")),
    path("work/", include("cmdesk.work.urls")),
    path("assess/", include("cmdesk.assess.urls")),
    path("supply/", include("cmdesk.supply.urls")),
]
