from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CadConfig(AppConfig):
    name = "amk.cad"
    label = "cad"
    verbose_name = _("CAD integration")

    def ready(self) -> None:
        from amk.cad import receivers  # noqa: F401, PLC0415  app loading: registered in ready()
