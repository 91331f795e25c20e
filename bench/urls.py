"""config.urls plus the baselines: /bench/ping/, a minimal authenticated DRF view (the location
API's), and /bench/pong/, a minimal Django view behind the same middleware (the board's)."""

from django.http import HttpResponse
from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns


class PingApi(APIView):
    """Same authentication (token, one SELECT) and JSON parsing as the API; no work."""

    def post(self, request):
        request.data  # noqa: B018 - parse the body like the real view does
        return Response(status=status.HTTP_204_NO_CONTENT)


def pong(request):
    """The same session, middleware and server as the board; no query of its own."""
    return HttpResponse(status=200)


urlpatterns = [
    path("bench/ping/", PingApi.as_view()),
    path("bench/pong/", pong),
    *project_urlpatterns,
]
