"""The console's accounts: the demo's dispatcher and administrator."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from amk.access import DISPATCHERS_GROUP


@transaction.atomic
def demo_accounts_ensure(*, dispatcher_password: str, admin_password: str) -> None:
    """The demo's dispatcher and administrator; passwords are (re)set so the printed ones work."""
    user_model = get_user_model()
    dispatchers, _ = Group.objects.get_or_create(name=DISPATCHERS_GROUP)
    dispatcher, _ = user_model.objects.get_or_create(
        username="dispatcher", defaults={"first_name": "Demo", "last_name": "Disponent"}
    )
    dispatcher.set_password(dispatcher_password)
    dispatcher.save(update_fields=["password"])
    dispatcher.groups.add(dispatchers)
    admin, _ = user_model.objects.get_or_create(
        username="admin", defaults={"email": "admin@example.dk"}
    )
    admin.is_staff = admin.is_superuser = True
    admin.set_password(admin_password)
    admin.save(update_fields=["password", "is_staff", "is_superuser"])
