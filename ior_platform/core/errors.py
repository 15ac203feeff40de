"""Errors that services raise and every entry point (API, views, commands) turns into a clear answer."""


class DomainError(Exception):
    """Base of the errors a user can act on; `reasons` is what they are shown."""

    def __init__(self, reasons: str | list[str]):
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("; ".join(self.reasons))


class TransitionRefused(DomainError):
    """The transition cannot proceed now: wrong state or unmet guards. Answered as 409 with the reasons."""


class NotPermitted(DomainError):
    """The actor's organization or role may not do this to an object they can see. Answered as 403."""


class ConflictError(DomainError):
    """Someone else changed the object first. Answered as 409; the caller reloads and decides again."""
