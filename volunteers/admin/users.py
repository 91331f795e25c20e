"""The admin of user accounts: deleting a user who is a volunteer erases the account as the
app's own deletion does (volunteers.services.accounts.volunteer_delete), not only the rows a
cascade would reach. Registered from volunteers/admin/__init__.py."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from volunteers.models import Volunteer
from volunteers.services.accounts import volunteer_delete

User = get_user_model()


class ErasingUserAdmin(UserAdmin):
    def delete_model(self, request, obj):
        volunteer = Volunteer.objects.filter(user=obj).first()
        if volunteer is None:
            super().delete_model(request, obj)
        else:
            volunteer_delete(volunteer=volunteer, erased_by=request.user)

    def delete_queryset(self, request, queryset):
        """The bulk action: volunteers erased, other users deleted; all of them or none."""
        with transaction.atomic():
            volunteers = Volunteer.objects.filter(user__in=queryset).select_related("user")
            erased = set()
            for volunteer in volunteers:
                erased.add(volunteer.user_id)
                volunteer_delete(volunteer=volunteer, erased_by=request.user)
            queryset.exclude(pk__in=erased).delete()


def register() -> None:
    admin.site.unregister(User)
    admin.site.register(User, ErasingUserAdmin)
