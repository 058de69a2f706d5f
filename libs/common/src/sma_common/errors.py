"""The exception tree shared by every service. Retrying is decided by type, never by message.

    SmaError
    ├── ConfigurationError          bad settings: fail fast at start-up
    ├── TransientError              worth retrying later
    │   ├── UpstreamUnavailable     a dependency or platform answered 5xx or not at all
    │   ├── RateLimited             a platform said slow down (carries retry_after seconds)
    │   └── DependencyTimeout       a call ran past its deadline
    └── PermanentError              retrying cannot help
        ├── InvalidCommand          a Kafka message that does not decode: goes to the DLQ
        ├── AuthRejected            credentials refused by a platform
        └── NotFound                the account does not exist (any more)
"""

from __future__ import annotations


class SmaError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigurationError(SmaError):
    pass


class TransientError(SmaError):
    pass


class UpstreamUnavailable(TransientError):
    pass


class RateLimited(TransientError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DependencyTimeout(TransientError):
    pass


class PermanentError(SmaError):
    pass


class InvalidCommand(PermanentError):
    pass


class AuthRejected(PermanentError):
    pass


class NotFound(PermanentError):
    pass
