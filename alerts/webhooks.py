"""Twilio webhooks: delivery status callbacks and SMS replies (JA / NEJ).

Each request must carry a valid X-Twilio-Signature over the URL Twilio called; anything
unsigned or forged is refused before it is read. An SMS reply is answered in the response, as
TwiML ``<Message>`` (alerts.services.inbound decides what to say).
"""

from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.messaging_response import MessagingResponse

from alerts.channels.twilio import validate_twilio_signature
from alerts.models import InboundMessage
from alerts.services import deliveries, inbound


def _url_twilio_called(request: HttpRequest) -> str:
    """Behind a proxy the public address differs from what Django sees; Twilio signs the former."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


def twilio_signed(view):
    @wraps(view)
    @csrf_exempt
    @require_POST
    def wrapper(request: HttpRequest) -> HttpResponse:
        signature = request.headers.get("X-Twilio-Signature")
        if not validate_twilio_signature(_url_twilio_called(request), request.POST, signature):
            return JsonResponse({"detail": "Invalid or missing X-Twilio-Signature."}, status=403)
        return view(request)

    return wrapper


def _missing(request: HttpRequest, *fields: str) -> JsonResponse | None:
    missing = [name for name in fields if not request.POST.get(name)]
    if missing:
        return JsonResponse({name: ["This field is required."] for name in missing}, status=400)
    return None


@twilio_signed
def twilio_status(request: HttpRequest) -> HttpResponse:
    if error := _missing(request, "MessageSid", "MessageStatus"):
        return error
    deliveries.delivery_status_update(
        provider_message_id=request.POST["MessageSid"],
        status=request.POST["MessageStatus"],
        error=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


def _too_long(request: HttpRequest, **limits: int) -> JsonResponse | None:
    long = {name: n for name, n in limits.items() if len(request.POST.get(name, "")) > n}
    if long:
        return JsonResponse(
            {name: [f"At most {n} characters."] for name, n in long.items()}, status=400
        )
    return None


def twiml_reply(text: str) -> str:
    """The TwiML answer to an SMS: one <Message> (escaped), or none."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


@twilio_signed
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS to the alert number: recorded once by its MessageSid, answered in the response.

    Twilio always sends Body (empty for a picture); a replay gets the first answer again.
    """
    if error := _missing(request, "MessageSid", "From"):
        return error
    if "Body" not in request.POST:
        return JsonResponse({"Body": ["This field is required."]}, status=400)
    sid_limit = InboundMessage._meta.get_field("message_sid").max_length
    from_limit = InboundMessage._meta.get_field("from_phone").max_length
    if error := _too_long(request, MessageSid=sid_limit, From=from_limit):
        return error
    message = inbound.sms_inbound_handle(
        message_sid=request.POST["MessageSid"],
        from_phone=request.POST["From"],
        body=request.POST["Body"],
    )
    return HttpResponse(twiml_reply(message.reply), content_type="text/xml")
