class ApplicationError(Exception):
    """A rule of the business refused an action; ``message`` is shown to the user as it is."""

    def __init__(self, message, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
