from django.http import HttpRequest


def staff(request: HttpRequest) -> dict:
    """The signed-in user's staff profile (or None) for the navigation and home page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"current_staff": None}
    return {"current_staff": getattr(user, "staff", None) if hasattr(user, "staff") else None}
