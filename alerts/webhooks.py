"""Twilio webhooks: delivery status callbacks and SMS replies (JA / NEJ).

Each request must carry a valid X-Twilio-Signature over the URL Twilio called; anything
unsigned or forged is refused before it is read.
"""

from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alerts.channels.twilio import validate_twilio_signature
from alerts.services import answers, deliveries

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


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


@twilio_signed
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if error := _missing(request, "From", "Body"):
        return error
    answers.sms_reply_handle(from_phone=request.POST["From"], body=request.POST["Body"])
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
