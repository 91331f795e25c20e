"""The CAD integration API, mounted at /api/cad/v1/."""

from django.urls import path

from amk.cad import apis

app_name = "cad"

urlpatterns = [
    path("incidents/", apis.CadIncidentCreateApi.as_view(), name="incidents"),
    path("incidents/<str:cad_number>/", apis.CadIncidentDetailApi.as_view(), name="incident"),
    path(
        "incidents/<str:cad_number>/cancel/",
        apis.CadIncidentCancelApi.as_view(),
        name="incident_cancel",
    ),
    path(
        "incidents/<str:cad_number>/close/",
        apis.CadIncidentCloseApi.as_view(),
        name="incident_close",
    ),
]
