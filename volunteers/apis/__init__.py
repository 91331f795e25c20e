"""The volunteers' mobile REST API (/api/v1/), one module per resource: ``auth`` (terms, codes,
sign-up, login, logout), ``profile`` (profile, availability, export), ``location``, ``devices``,
``alerts`` (alerts and the debrief) and ``aeds``; the shared pieces are in ``base``."""
