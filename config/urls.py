from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from alerts import webhooks
from amk.console import accounts
from config import metrics, views

urlpatterns = [
    # The admin logs in through the console's login: one lock-out, one second factor.
    path("admin/login/", accounts.admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/", include("volunteers.urls")),
    path("api/cad/v1/", include("amk.cad.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("about/", views.about, name="about"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("webhooks/twilio/status/", webhooks.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound"),
    path("", RedirectView.as_view(pattern_name="amk:incident_list"), name="home"),
    path("login/", accounts.ConsoleLoginView.as_view(), name="login"),
    path("login/code/", accounts.login_otp, name="login_otp"),
    path("login/code/new/", accounts.login_otp_enrol, name="login_otp_enrol"),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("console/", include("amk.console.urls")),
    path("demo/", include("alerts.urls")),
]
