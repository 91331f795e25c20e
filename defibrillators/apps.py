from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DefibrillatorsConfig(AppConfig):
    name = "defibrillators"
    verbose_name = _("Defibrillators (AED)")
