"""The dispatcher console, under /console/."""

from django.urls import path
from django.views.i18n import set_language

from amk.console import accounts, simulation, views

app_name = "amk"

urlpatterns = [
    path("", views.incident_list, name="incident_list"),
    path("incidents/new/", views.incident_create, name="incident_create"),
    path("incidents/<int:incident_id>/", views.incident_detail, name="incident_detail"),
    path(
        "incidents/<int:incident_id>/board.json", views.incident_board_json, name="incident_board"
    ),
    path("incidents/<int:incident_id>/cancel/", views.incident_cancel, name="incident_cancel"),
    path("incidents/<int:incident_id>/close/", views.incident_close, name="incident_close"),
    path(
        "incidents/<int:incident_id>/escalate/", views.incident_escalate, name="incident_escalate"
    ),
    path("incidents/<int:incident_id>/note/", views.incident_note, name="incident_note"),
    path(
        "incidents/<int:incident_id>/alerts/<int:alert_id>/stand-down/",
        views.alert_stand_down,
        name="alert_stand_down",
    ),
    path(
        "incidents/<int:incident_id>/alerts/<int:alert_id>/role/",
        views.alert_role_set,
        name="alert_role_set",
    ),
    path("session/", accounts.session_status, name="session_status"),
    path("places/", views.place_search_json, name="place_search"),
    path("places/check/", views.location_check_json, name="location_check"),
    path("simulation/", simulation.policy_simulation, name="policy_simulation"),
    # The console's language: Danish unless the user chose otherwise (config.language).
    path("language/", set_language, name="set_language"),
]
