"""The demo's simulated phone: what each volunteer received through the outbox backends.

Only in demo mode (settings.APP_MODE == "demo"), and only for dispatchers: the messages are
personal. The JA/NEJ buttons and the text field send an SMS to the alert number through
alerts.services.inbound, as Twilio's webhook does, so the phone shows the same answers.
"""

import functools
from types import SimpleNamespace

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from alerts.models import Alert, AlertDelivery, InboundMessage, OutboxMessage
from alerts.selectors.incident import ALERT_COUNTS
from alerts.services import inbound
from amk.access import dispatcher_required
from amk.models.incident import Incident
from volunteers.models import Device, Volunteer

PHONE_REFRESH_MS = 3000
PHONE_MESSAGES_SHOWN = 50


def demo_only(view):
    """404 unless the installation runs in demo mode; then the console's access rule."""
    protected = dispatcher_required(view)

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if settings.APP_MODE != "demo":
            raise Http404
        return protected(request, *args, **kwargs)

    return wrapper


def _waiting_alerts():
    """Alerts still open to an answer, counted as the board counts "waiting"."""
    return Alert.objects.filter(ALERT_COUNTS["waiting"], incident__state__in=Incident.OPEN_STATES)


def _open_alerts(volunteer: Volunteer):
    return (
        _waiting_alerts()
        .filter(volunteer=volunteer)
        .select_related("incident__municipality")
        .defer("incident__municipality__area")
        .order_by("-created_at")
    )


def _assignments(volunteer: Volunteer):
    return (
        Alert.objects.filter(ALERT_COUNTS["responding"], volunteer=volunteer)
        .select_related("incident__municipality", "aed")
        .defer("incident__municipality__area")
        .order_by("-created_at")
    )


@never_cache
@require_GET
@demo_only
def phone_list(request):
    # The newest message to the volunteer: SMS to their number, push to one of their devices.
    last_message = (
        OutboxMessage.objects.filter(
            Q(channel=AlertDelivery.Channel.SMS, recipient=OuterRef("phone"))
            | Q(
                channel=AlertDelivery.Channel.PUSH,
                recipient__in=Device.objects.filter(volunteer=OuterRef(OuterRef("pk"))).values(
                    "push_token"
                ),
            )
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    volunteers = (
        Volunteer.objects.annotate(
            last_message_at=Subquery(last_message),
            open_alerts=Count("alerts", filter=Q(alerts__in=_waiting_alerts())),
        )
        .filter(last_message_at__isnull=False)
        .select_related("user")
        .order_by("-last_message_at")[:200]
    )
    return render(
        request,
        "alerts/phone_list.html",
        {"volunteers": volunteers, "refresh_ms": PHONE_REFRESH_MS},
    )


@never_cache
@require_GET
@demo_only
def phone_detail(request, volunteer_id: int):
    volunteer = get_object_or_404(Volunteer.objects.select_related("user"), pk=volunteer_id)
    tokens = list(volunteer.devices.values_list("push_token", flat=True))
    received = OutboxMessage.objects.filter(
        Q(channel=AlertDelivery.Channel.SMS, recipient=str(volunteer.phone))
        | Q(channel=AlertDelivery.Channel.PUSH, recipient__in=tokens)
    ).order_by("-created_at", "-pk")[:PHONE_MESSAGES_SHOWN]
    sent = InboundMessage.objects.filter(volunteer=volunteer).order_by("-received_at", "-pk")[
        :PHONE_MESSAGES_SHOWN
    ]
    context = {
        "volunteer": volunteer,
        "inbox": _conversation(list(received), list(sent)),
        "open_alerts": _open_alerts(volunteer),
        "assignments": _assignments(volunteer),
        "refresh_ms": PHONE_REFRESH_MS,
    }
    if request.GET.get("fragment") == "screen":
        return render(request, "alerts/_phone_screen.html", context)
    return render(request, "alerts/phone_detail.html", context)


def _conversation(received: list[OutboxMessage], sent: list[InboundMessage]) -> list:
    """Newest first: what the phone received, what it sent, and the answers it got."""
    items: list = list(received)
    for message in sent:
        at = message.received_at
        if message.reply:  # the answer came after the message
            items.append(SimpleNamespace(channel="sms", created_at=at, body=message.reply, data={}))
        items.append(SimpleNamespace(channel="sent", created_at=at, body=message.body, data={}))
    # Stable: an answer stays above the message it answers.
    items.sort(key=lambda item: item.created_at, reverse=True)
    return items[:PHONE_MESSAGES_SHOWN]


def _show_outcome(request, message: InboundMessage) -> None:
    Outcome = InboundMessage.Outcome
    if message.outcome == Outcome.ACCEPTED and message.alert is not None:
        message.alert.refresh_from_db(fields=["role"])  # given by the acceptance
        role = message.alert.get_role_display()
        messages.success(request, _("JA sent. Role: %(role)s") % {"role": role})
    elif message.outcome in (Outcome.DECLINED, Outcome.WITHDRAWN):
        messages.info(request, message.reply)
    else:
        messages.error(request, message.reply)


@require_POST
@demo_only
def phone_answer(request, volunteer_id: int, alert_id: int):
    """The JA/NEJ buttons of an alert: an SMS "JA 4821" or "NEJ 4821" from the volunteer
    (NEJ after JA withdraws)."""
    volunteer = get_object_or_404(Volunteer, pk=volunteer_id)
    words = {"accept": inbound.YES, "decline": inbound.NO}
    answer = words.get(request.POST.get("answer", ""))
    if answer is None:
        messages.error(request, _("Unknown answer."))
    else:
        _show_outcome(
            request, inbound.demo_sms_send(volunteer=volunteer, body=f"{answer} {alert_id}")
        )
    return redirect("alerts:phone_detail", volunteer_id=volunteer_id)


@require_POST
@demo_only
def phone_sms(request, volunteer_id: int):
    """Any text, as the volunteer would type it ("ja tak", "kommer", "NEJ 4821")."""
    volunteer = get_object_or_404(Volunteer, pk=volunteer_id)
    body = request.POST.get("body", "")[:1600]  # Twilio's limit for one inbound message
    _show_outcome(request, inbound.demo_sms_send(volunteer=volunteer, body=body))
    return redirect("alerts:phone_detail", volunteer_id=volunteer_id)
