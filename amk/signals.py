"""What the incident core announces to the layers above it, which it must not import.

Receivers live in the app that reacts (alerts connects its own in ``AlertsConfig.ready``).
"""

from django.dispatch import Signal

# Sent inside the transaction that created the incident; kwargs: incident (saved). Receivers
# write in the same transaction (alerts copies the dispatch policy in force onto it) and start
# work for after the commit with transaction.on_commit(..., robust=True): the incident row is
# the outbox, so a failing enqueue (broker down) only delays dispatch until the sweep finds it.
incident_created = Signal()

# Sent inside the transaction that ended the incident; kwargs: incident (its state already
# cancelled or closed), actor. Receivers write in the same transaction: all or nothing.
incident_ended = Signal()
