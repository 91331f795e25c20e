"""The project's URLs plus a view that fails while holding a patient's address and position,
as an unforeseen bug would: for the error-reporting test (tests/test_operations.py)."""

from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

PATIENT_ADDRESS = "Vestergade 48, 8000 Aarhus C"
PATIENT_LAT, PATIENT_LON = "56.157341", "10.203385"
CALLER_PHONE = "+4520123456"


def failing_view(request, incident_id):
    address = PATIENT_ADDRESS  # noqa: F841  a local variable the report must not carry
    raise RuntimeError(
        f"board failed near {PATIENT_LAT}, {PATIENT_LON} calling {CALLER_PHONE} "
        f"(incident {incident_id})"
    )


urlpatterns = [
    path("ops-test/incidents/<int:incident_id>/fail/", failing_view),
    *project_urlpatterns,
]
