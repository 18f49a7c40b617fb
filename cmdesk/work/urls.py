from .views import board, plans, summaries, visits

app_name = "work"

urlpatterns = [*board.urlpatterns, *plans.urlpatterns, *visits.urlpatterns, *summaries.urlpatterns]
