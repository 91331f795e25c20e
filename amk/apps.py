from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AmkConfig(AppConfig):
    name = "amk"
    verbose_name = _("AMK dispatch")
