"""The admin of records the platform writes (alerts, deliveries, AED uses, logins, callbacks):
seen, never added, edited or deleted by hand."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what happened: nobody edits history by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
