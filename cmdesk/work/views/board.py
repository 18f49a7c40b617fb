"""Pages: the CM's work home, the head's board, reminders (placeholder until filled in)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path


@login_required
def home(request):
    return HttpResponse("work")


urlpatterns: list = [path("", home, name="home")]
