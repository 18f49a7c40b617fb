from django.http import HttpRequest


def reminders(request: HttpRequest) -> dict:
    """Unread in-app reminders of the signed-in user, for the navigation badge."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_reminders": 0}
    from .models import Reminder

    return {"unread_reminders": Reminder.objects.filter(user=user, read_at__isnull=True).count()}
