"""The dispatcher console: the incident list, a new incident, the live incident page, actions.

Every page is for dispatchers only (group "Dispatchers", or superusers): see
``dispatcher_required``. Writes go through amk.services and alerts.services; reads through
amk.console.board (the live board), amk.console.selectors, amk.selectors.territory and
amk.selectors.addresses (the search box).
"""

import functools

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.selectors.incident import alert_in_incident
from alerts.services import roles, standdown
from alerts.services import waves as alert_waves
from amk.access import dispatcher_required
from amk.console.board import incident_board
from amk.console.forms import IncidentForm, parse_coordinates
from amk.console.selectors import incident_list_rows
from amk.models.incident import Incident
from amk.selectors import addresses, territory
from amk.services import incidents
from config.exceptions import ApplicationError

LIST_REFRESH_MS = 4000
BOARD_REFRESH_MS = 2000

# The board's header: each count of alerts.selectors.incident.ALERT_COUNTS the dispatcher sees,
# in order, with its label and colour.
COUNT_TILES = (
    ("alerted", gettext_lazy("Alerted"), "plain"),
    ("sent", gettext_lazy("Sent"), "plain"),
    ("delivered", gettext_lazy("Delivered"), "plain"),
    ("waiting", gettext_lazy("Waiting"), "plain"),
    ("accepted", gettext_lazy("Accepted"), "good"),
    ("on_the_way", gettext_lazy("On the way"), "good"),
    ("on_scene", gettext_lazy("On scene"), "good"),
    ("declined", gettext_lazy("Declined"), "plain"),
    ("expired", gettext_lazy("Expired"), "plain"),
    ("failed", gettext_lazy("Failed"), "bad"),
)


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


@never_cache
@require_GET
@dispatcher_required
def incident_list(request):
    rows = incident_list_rows()
    open_rows = [row for row in rows if row.incident.is_open]
    context = {
        "open_rows": open_rows,
        "ended_rows": [row for row in rows if not row.incident.is_open],
        "attention_count": sum(bool(row.attention) for row in open_rows),
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
            "count_tiles": [
                {"key": key, "label": label, "style": style, "value": board["counts"][key]}
                for key, label, style in COUNT_TILES
            ],
            "map_config": map_config(),
            "refresh_ms": BOARD_REFRESH_MS,
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


@require_POST
@dispatcher_required
def alert_stand_down(request, incident_id: int, alert_id: int):
    """Stand one responder down: they are told they need not go on, their AED is freed."""
    if not alert_in_incident(alert_id=alert_id, incident_id=incident_id):
        raise Http404
    try:
        standdown.alert_stand_down(alert_id=alert_id, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Responder stood down; a message is on its way to them."))
    return redirect("amk:incident_detail", incident_id=incident_id)


@require_POST
@dispatcher_required
def alert_role_set(request, incident_id: int, alert_id: int):
    """The dispatcher gives a responder another role: straight to the patient or an AED."""
    if not alert_in_incident(alert_id=alert_id, incident_id=incident_id):
        raise Http404
    choice = request.POST.get("role_aed", "")
    role, _sep, aed = choice.partition(":")
    if role not in ("cpr", "aed") or (role == "aed") != aed.isdigit():
        messages.error(request, _("Choose straight to the patient or one of the AEDs."))
        return redirect("amk:incident_detail", incident_id=incident_id)
    try:
        roles.alert_role_set(
            alert_id=alert_id, role=role, aed_id=int(aed) if aed else None, actor=request.user
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Role changed; the responder is told."))
    return redirect("amk:incident_detail", incident_id=incident_id)


@never_cache
@require_GET
@dispatcher_required
def place_search_json(request):
    """As the dispatcher types: addresses, streets, places (landmarks) and postcodes."""
    # PostgreSQL refuses NUL in text: such a query is noise, not a server error.
    query = request.GET.get("q", "").replace("\x00", "")[:100]
    found = addresses.location_search(query=query, limit=10)
    return JsonResponse(
        {
            "query": query,
            "addresses_fallback": found.addresses_fallback,
            "results": [
                {
                    "kind": m.kind,
                    "label": m.label,
                    "address": m.address,
                    "municipality": m.municipality,
                    "in_service_region": m.in_service_region,
                    "synthetic": m.synthetic,
                    "lat": round(m.point.y, 6),
                    "lon": round(m.point.x, 6),
                }
                for m in found.matches
            ],
        }
    )


@never_cache
@require_GET
@dispatcher_required
def location_check_json(request):
    """Tell the dispatcher before submit whether the pin is in the region (or on its shore)."""
    try:
        point = parse_coordinates(request.GET.get("location", ""))
    except ValidationError as error:
        return JsonResponse({"location": error.messages}, status=400)
    check = territory.incident_location_check(point=point)
    return JsonResponse(
        {
            "accepted": check.municipality is not None,
            "municipality": check.municipality.name if check.municipality else None,
            "message": "" if check.municipality else check.refusal,
        }
    )
