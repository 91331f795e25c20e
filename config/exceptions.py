class ApplicationError(Exception):
    """A business rule refused the request; the message is safe to show to the user."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
