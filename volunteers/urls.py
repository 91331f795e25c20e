"""The volunteers' mobile REST API, mounted at /api/v1/."""

from django.urls import path

from volunteers import apis

app_name = "api"

urlpatterns = [
    path("terms/", apis.TermsApi.as_view(), name="terms"),
    path("auth/code/", apis.CodeRequestApi.as_view(), name="auth_code"),
    path("auth/signup/", apis.SignUpApi.as_view(), name="auth_signup"),
    path("auth/login/", apis.LoginApi.as_view(), name="auth_login"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth_logout"),
    path("me/", apis.ProfileApi.as_view(), name="me"),
    path("me/availability/", apis.AvailabilityApi.as_view(), name="me_availability"),
    path("me/location/", apis.LocationApi.as_view(), name="me_location"),
    path("me/export/", apis.ExportApi.as_view(), name="me_export"),
    path("devices/", apis.DeviceListApi.as_view(), name="devices"),
    path("devices/<int:device_id>/", apis.DeviceDetailApi.as_view(), name="device"),
    path("alerts/", apis.AlertListApi.as_view(), name="alerts"),
    path("alerts/<int:alert_id>/", apis.AlertDetailApi.as_view(), name="alert"),
    path("alerts/<int:alert_id>/receipt/", apis.AlertReceiptApi.as_view(), name="alert_receipt"),
    path("alerts/<int:alert_id>/accept/", apis.AlertAcceptApi.as_view(), name="alert_accept"),
    path("alerts/<int:alert_id>/decline/", apis.AlertDeclineApi.as_view(), name="alert_decline"),
    path("alerts/<int:alert_id>/progress/", apis.AlertProgressApi.as_view(), name="alert_progress"),
    path("alerts/<int:alert_id>/debrief/", apis.DebriefApi.as_view(), name="alert_debrief"),
    path("aeds/", apis.AedNearbyApi.as_view(), name="aeds_nearby"),
]
