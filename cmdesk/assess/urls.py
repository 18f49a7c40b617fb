from .views import runs, spotchecks

app_name = "assess"

urlpatterns = [*runs.urlpatterns, *spotchecks.urlpatterns]
