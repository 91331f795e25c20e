from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project-wide app: templates, static files, locale, commands, and its checks."""

    name = "config"
    verbose_name = "Hjertealarm"

    def ready(self):
        from config import checks  # noqa: F401, PLC0415  registers the deployment checks
