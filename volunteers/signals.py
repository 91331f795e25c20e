"""Signals the volunteers' registry sends to the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent by volunteers.services.accounts.volunteer_delete inside its transaction, before anything
# is deleted, with volunteer=, phone= (E.164 text) and push_tokens= (the devices' tokens): each
# receiver erases its own copies of the person (alerts.receivers).
volunteer_erasing = Signal()
