"""config.urls plus /bench/ping/: a minimal authenticated DRF view (the baseline)."""

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


urlpatterns = [path("bench/ping/", PingApi.as_view()), *project_urlpatterns]
