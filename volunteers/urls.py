"""The volunteers' mobile REST API, mounted at /api/v1/."""

from django.urls import path

from volunteers.apis import aeds, alerts, auth, devices, location, profile

app_name = "api"

urlpatterns = [
    path("terms/", auth.TermsApi.as_view(), name="terms"),
    path("auth/code/", auth.CodeRequestApi.as_view(), name="auth_code"),
    path("auth/signup/", auth.SignUpApi.as_view(), name="auth_signup"),
    path("auth/login/", auth.LoginApi.as_view(), name="auth_login"),
    path("auth/logout/", auth.LogoutApi.as_view(), name="auth_logout"),
    path("me/", profile.ProfileApi.as_view(), name="me"),
    path("me/availability/", profile.AvailabilityApi.as_view(), name="me_availability"),
    path("me/location/", location.LocationApi.as_view(), name="me_location"),
    path("me/export/", profile.ExportApi.as_view(), name="me_export"),
    path("devices/", devices.DeviceListApi.as_view(), name="devices"),
    path("devices/<int:device_id>/", devices.DeviceDetailApi.as_view(), name="device"),
    path("alerts/", alerts.AlertListApi.as_view(), name="alerts"),
    path("alerts/<int:alert_id>/", alerts.AlertDetailApi.as_view(), name="alert"),
    path("alerts/<int:alert_id>/receipt/", alerts.AlertReceiptApi.as_view(), name="alert_receipt"),
    path("alerts/<int:alert_id>/accept/", alerts.AlertAcceptApi.as_view(), name="alert_accept"),
    path("alerts/<int:alert_id>/decline/", alerts.AlertDeclineApi.as_view(), name="alert_decline"),
    path(
        "alerts/<int:alert_id>/progress/", alerts.AlertProgressApi.as_view(), name="alert_progress"
    ),
    path(
        "alerts/<int:alert_id>/aed-returned/",
        alerts.AlertAedReturnedApi.as_view(),
        name="alert_aed_returned",
    ),
    path("alerts/<int:alert_id>/debrief/", alerts.DebriefApi.as_view(), name="alert_debrief"),
    path("aeds/", aeds.AedNearbyApi.as_view(), name="aeds_nearby"),
]
