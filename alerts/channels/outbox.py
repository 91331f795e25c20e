"""Recording backends for the demo and tests: messages become ``alerts.OutboxMessage`` rows.

The demo's simulated phone reads them. Row layout:

- SMS: ``channel="sms"``, ``recipient`` = the E.164 number, ``body`` = the text,
  ``data`` = ``{"validity_s": int | None, "status_callback_url": str | None}``.
- Push: ``channel="push"``, ``recipient`` = the device token, ``body`` = the notification text,
  ``data`` = ``{"title": str, "data": {str: str} (carries alert_id), "ttl_s": int}``.

``provider_message_id`` is a fresh uuid4, returned like a provider's message id.
"""

from __future__ import annotations

import uuid

from alerts.channels.base import PushBackend, PushMessage, SmsBackend, SmsMessage
from alerts.models import AlertDelivery, OutboxMessage


class OutboxSmsBackend(SmsBackend):
    def send(self, message: SmsMessage) -> str:
        row = OutboxMessage.objects.create(
            channel=AlertDelivery.Channel.SMS,
            recipient=message.to,
            body=message.body,
            data={
                "validity_s": message.validity_s,
                "status_callback_url": message.status_callback_url,
                **({"sender": message.sender} if message.sender else {}),
            },
            provider_message_id=str(uuid.uuid4()),
        )
        return row.provider_message_id


class OutboxPushBackend(PushBackend):
    def send(self, message: PushMessage) -> str:
        row = OutboxMessage.objects.create(
            channel=AlertDelivery.Channel.PUSH,
            recipient=message.token,
            body=message.body,
            data={"title": message.title, "data": dict(message.data), "ttl_s": message.ttl_s},
            provider_message_id=str(uuid.uuid4()),
        )
        return row.provider_message_id
