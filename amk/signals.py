"""What the incident core announces to the layers above it, which it must not import.

Receivers live in the app that reacts (alerts connects its own in ``AlertsConfig.ready``).
"""

from django.dispatch import Signal

# Sent once the new incident is committed; kwargs: incident_id. The incident row is the outbox,
# so a receiver that fails (broker down) only delays dispatch until the sweep finds the row.
incident_created = Signal()

# Sent inside the transaction that ended the incident; kwargs: incident (its state already
# cancelled or closed), actor. Receivers write in the same transaction: all or nothing.
incident_ended = Signal()
