from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        from alerts import (  # noqa: PLC0415  app loading: registered in ready()
            checks,  # noqa: F401  (system checks, Celery worker fail-fast)
            receivers,  # noqa: F401  (signals of the incident core and registries)
        )
