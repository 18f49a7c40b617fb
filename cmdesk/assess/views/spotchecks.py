"""Pages: spotchecks."""

urlpatterns: list = []
