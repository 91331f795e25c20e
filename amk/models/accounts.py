"""The log of the console's and the admin's logins: who, from where, and what came of it."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LoginEvent(models.Model):
    """One login, failure, logout or time-out. Least data: no password, no session key, the
    user agent cut short, kept ``LOGIN_EVENT_RETENTION_DAYS`` (amk.services.accounts)."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Logged in")
        WRONG_PASSWORD = "wrong_password", _("Wrong password")
        LOCKED = "locked", _("Refused: locked out")
        WRONG_OTP = "wrong_otp", _("Wrong one-time code")
        LOGOUT = "logout", _("Logged out")
        TIMEOUT = "timeout", _("Session timed out")

    USER_AGENT_MAX = 200
    USERNAME_MAX = 150

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="login_events",
    )
    username = models.CharField(_("username given"), max_length=USERNAME_MAX, blank=True)
    ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=USER_AGENT_MAX, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    from_dispatch_network = models.BooleanField(_("from the dispatch network"), default=False)

    class Meta:
        verbose_name = _("login event")
        verbose_name_plural = _("login events")
        ordering = ["-at"]
        indexes = [models.Index(fields=["username", "at"], name="loginevent_username_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.outcome}"
