from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        from alerts import checks  # noqa: F401  (system checks, Celery worker fail-fast)
        from alerts.receivers import volunteer_erasing_scrub
        from volunteers.signals import volunteer_erasing

        volunteer_erasing.connect(
            volunteer_erasing_scrub, dispatch_uid="alerts.receivers.volunteer_erasing_scrub"
        )
