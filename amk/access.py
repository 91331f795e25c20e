"""Who may use the dispatcher console: the group Dispatchers and superusers."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

DISPATCHERS_GROUP = "Dispatchers"


def user_is_dispatcher(user) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.groups.filter(name=DISPATCHERS_GROUP).exists()


def dispatcher_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Anonymous users go to the login page; signed-in users who are not dispatchers get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user_is_dispatcher(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
