"""Errors a service raises when it refuses a request; messages are Chinese for staff."""


class ServiceError(Exception):
    """The request breaks a rule (answered as 400/422)."""


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class TooLarge(ServiceError):
    """The request is over a size limit (answered as 413)."""


class Forbidden(ServiceError):
    """The member's roles do not reach what was asked for (answered as 403)."""
