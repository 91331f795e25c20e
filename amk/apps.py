from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AmkConfig(AppConfig):
    name = "amk"
    verbose_name = _("AMK dispatch")

    def ready(self):
        # The login audit and the session clocks (amk.receivers).
        from amk import receivers  # noqa: F401, PLC0415
