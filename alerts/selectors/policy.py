"""The dispatch policy in force."""

from alerts.models import DispatchPolicy


def dispatch_policy_current() -> DispatchPolicy:
    """The active policy, or the built-in defaults (today's Hjerteløber practice) if none is."""
    return DispatchPolicy.objects.filter(is_active=True).first() or DispatchPolicy()
