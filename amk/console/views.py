"""The dispatcher console: the incident list, a new incident, the live incident page, actions.

Every page is for dispatchers only (group "Dispatchers", or superusers): see
``dispatcher_required``. Writes go through amk.services and alerts.services; reads through
amk.console.board (the live board), amk.console.selectors and amk.selectors.territory.
"""

import functools

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.selectors.policy import dispatch_policy_current
from alerts.services import waves as alert_waves
from amk.access import dispatcher_required
from amk.console.board import incident_board
from amk.console.forms import IncidentForm
from amk.console.selectors import console_incidents
from amk.models.incident import Incident
from amk.selectors import territory
from amk.services import incidents
from config.exceptions import ApplicationError

LIST_REFRESH_MS = 4000
BOARD_REFRESH_MS = 2000


def map_config() -> dict:
    """What the console's maps need: the tile servers (maybe unreachable) and the view."""
    leaflet = settings.LEAFLET_CONFIG
    tiles = leaflet.get("TILES", [])
    if isinstance(tiles, str):
        tiles = [("", tiles, {})]
    layers = []
    for name, url, *rest in tiles:
        options = rest[0] if rest and isinstance(rest[0], dict) else {}
        layers.append({"name": name, "url": url, "options": options})
    return {
        "tiles": layers,
        "center": list(leaflet.get("DEFAULT_CENTER", (56.2, 9.6))),
        "zoom": leaflet.get("DEFAULT_ZOOM", 8),
        "minZoom": leaflet.get("MIN_ZOOM", 5),
        "maxZoom": leaflet.get("MAX_ZOOM", 18),
        # The offline base layer: simplified municipality outlines (config/static/geo/).
        "outlines": static("geo/kommuner.geojson"),
    }


def _incident_rows(now):
    incidents = list(console_incidents(now=now))
    policy = dispatch_policy_current()
    for incident in incidents:
        incident.age_s = int((now - incident.created_at).total_seconds())
        incident.short_of_target = (
            incident.is_open
            and not incident.exclusion_reasons
            and incident.age_s >= policy.escalate_after_s
            and incident.responding_count < policy.target_accepted
        )
    return incidents, policy


@never_cache
@require_GET
@dispatcher_required
def incident_list(request):
    now = timezone.now()
    incidents, policy = _incident_rows(now)
    context = {
        "incidents": incidents,
        "open_count": sum(i.is_open for i in incidents),
        "policy": policy,
        "refresh_ms": LIST_REFRESH_MS,
    }
    if request.GET.get("fragment") == "rows":
        return render(request, "amk/_incident_rows.html", context)
    return render(request, "amk/incident_list.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@dispatcher_required
def incident_create(request):
    # An empty POST is a submission too: it gets the "required" messages, not a blank form.
    form = IncidentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incidents.incident_create(
                created_by=request.user,
                location=data["location"],
                address=data["address"],
                note=data["note"],
                exclusion_reasons=data["exclusion_reasons"],
            )
        except ApplicationError as error:
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
        else:
            if incident.exclusion_reasons:
                messages.warning(
                    request,
                    _("Incident #%(id)s created. Volunteers are not activated.")
                    % {"id": incident.pk},
                )
            else:
                messages.success(
                    request,
                    _("Incident #%(id)s created; volunteers are being alerted.")
                    % {"id": incident.pk},
                )
            return redirect("amk:incident_detail", incident_id=incident.pk)
    return render(
        request,
        "amk/incident_create.html",
        {
            "form": form,
            "map_config": map_config() | {"region": territory.service_region_municipality_codes()},
        },
    )


@never_cache
@require_GET
@dispatcher_required
def incident_detail(request, incident_id: int):
    try:
        board = incident_board(incident_id=incident_id)
    except Incident.DoesNotExist:
        raise Http404 from None
    incident = board["incident"]
    return render(
        request,
        "amk/incident_detail.html",
        {
            "board": board,
            "incident": incident,
            "map_config": map_config(),
            "refresh_ms": BOARD_REFRESH_MS,
            "can_escalate": incident["state"] == Incident.State.DISPATCHING,
        },
    )


@never_cache
@require_GET
@dispatcher_required
def incident_board_json(request, incident_id: int):
    try:
        board = incident_board(incident_id=incident_id)
    except Incident.DoesNotExist:
        raise Http404 from None
    return JsonResponse(board)


def _incident_action(view):
    """A POST action on one incident: ApplicationError becomes a message; back to the page."""

    @functools.wraps(view)
    def wrapper(request, incident_id: int):
        get_object_or_404(Incident.objects.only("pk"), pk=incident_id)
        try:
            view(request, incident_id)
        except ApplicationError as error:
            messages.error(request, error.message)
        return redirect("amk:incident_detail", incident_id=incident_id)

    return require_POST(dispatcher_required(wrapper))


def _require_open(incident_id: int) -> None:
    incident = Incident.objects.only("state").get(pk=incident_id)
    if not incident.is_open:
        raise ApplicationError(
            _("The incident has already ended (%(state)s).")
            % {"state": incident.get_state_display()},
            code="ended",
        )


@_incident_action
def incident_cancel(request, incident_id: int):
    incidents.incident_cancel(incident_id=incident_id, actor=request.user)
    messages.success(request, _("Incident cancelled. Stand-down sent to all alerted volunteers."))


@_incident_action
def incident_close(request, incident_id: int):
    incidents.incident_close(incident_id=incident_id, actor=request.user)
    messages.success(request, _("Incident closed. Volunteers released with thanks."))


@_incident_action
def incident_escalate(request, incident_id: int):
    _require_open(incident_id)
    if alert_waves.incident_escalate(incident_id=incident_id, actor=request.user):
        messages.success(request, _("Next wave sent."))
    else:
        messages.error(
            request,
            _("No new wave: volunteers are only alerted while the incident is dispatching."),
        )


@_incident_action
def incident_note(request, incident_id: int):
    _require_open(incident_id)
    incidents.incident_note_add(
        incident_id=incident_id, actor=request.user, text=request.POST.get("text", "")
    )
    messages.success(request, _("Note added."))


@never_cache
@require_GET
@dispatcher_required
def place_search_json(request):
    # PostgreSQL refuses NUL in text: such a query is noise, not a server error.
    query = request.GET.get("q", "").replace("\x00", "")[:100]
    matches = territory.place_search(query=query, limit=10) if query.strip() else []
    return JsonResponse(
        {
            "query": query,
            "results": [
                {
                    "kind": m.kind,
                    "label": m.label,
                    "municipality": m.municipality,
                    "in_service_region": m.in_service_region,
                    "lat": round(m.point.y, 6),
                    "lon": round(m.point.x, 6),
                }
                for m in matches
            ],
        }
    )
