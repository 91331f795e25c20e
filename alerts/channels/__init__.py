"""SMS and push channel backends; see ``alerts.channels.base`` for the interface.

Import the provider modules (``alerts.channels.twilio``, ``alerts.channels.fcm``) only where
needed: they pull in the provider SDKs.
"""

from alerts.channels.base import (
    ChannelError,
    InvalidRecipientError,
    PermanentChannelError,
    PushBackend,
    PushMessage,
    SmsBackend,
    SmsMessage,
    TransientChannelError,
    UnregisteredTokenError,
    get_push_backend,
    get_sms_backend,
    reset_backends,
    warm_up_backends,
)

__all__ = [
    "ChannelError",
    "InvalidRecipientError",
    "PermanentChannelError",
    "PushBackend",
    "PushMessage",
    "SmsBackend",
    "SmsMessage",
    "TransientChannelError",
    "UnregisteredTokenError",
    "get_push_backend",
    "get_sms_backend",
    "reset_backends",
    "warm_up_backends",
]
