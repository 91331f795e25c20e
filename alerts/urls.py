"""The demo's simulated phone, under /demo/ (404 unless APP_MODE is "demo")."""

from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("phone/", views.phone_list, name="phone_list"),
    path("phone/<int:volunteer_id>/", views.phone_detail, name="phone_detail"),
    path(
        "phone/<int:volunteer_id>/alerts/<int:alert_id>/answer/",
        views.phone_answer,
        name="phone_answer",
    ),
    path("phone/<int:volunteer_id>/sms/", views.phone_sms, name="phone_sms"),
]
