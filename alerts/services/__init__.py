"""Alerts' workflows, one module per job (import the module you need; nothing is re-exported):

- ``waves``: dispatch, escalation and the waves of alerts; the push→SMS fallback check.
- ``deliveries``: the delivery engine: create, send in batches, retry, fail and fall back, and
  the providers' status callbacks; ``sending``: the claim and the hand-over to the providers.
- ``answers``: receipt, accept, decline, progress, release, stand-down and SMS replies.
- ``standdown``: the dispatcher stands one responder down.
- ``timeline``: an alert's state moves and their entries on the incident's timeline.
- ``sweep``: the periodic re-queue of what was left behind.
- ``codes``: the login code by SMS; ``debriefs``: the volunteers' debriefs;
  ``erasure``: a volunteer's traces in the alerts, scrubbed; ``retention``: position snapshots
  expired.
- ``aed_uses``: the AEDs sent for, in use until their return is confirmed (app, SMS "RETUR",
  admin); ``aed_notices``: the SMS to AEDs' contacts (taken; battery or pads expire soon).

Every workflow is safe to run twice: alerts are unique per (incident, volunteer), deliveries
per (alert, channel, kind), and state moves by conditional UPDATE. Work for the workers is
queued (``alerts.enqueue``) only after the transaction that created it commits.
"""
