"""Why an envelope was refused or a call failed; each error carries a short machine code."""

from nunet.errors import NunetError


class ActorError(NunetError):
    """Base of the actor runtime's errors."""

    code = "actor-error"


class EnvelopeRejected(ActorError):
    """An envelope failed a check on receipt; it never reaches a handler."""

    code = "rejected"


class MalformedEnvelope(EnvelopeRejected):
    code = "malformed"


class EnvelopeTooLarge(EnvelopeRejected):
    code = "too-large"


class UnsignedEnvelope(EnvelopeRejected):
    code = "unsigned"


class ForgedEnvelope(EnvelopeRejected):
    code = "bad-signature"


class NonCanonicalEnvelope(EnvelopeRejected):
    code = "non-canonical"


class ExpiredEnvelope(EnvelopeRejected):
    code = "expired"


class EnvelopeFromFuture(EnvelopeRejected):
    code = "clock-skew"


class ReplayedEnvelope(EnvelopeRejected):
    code = "replayed"


class Unauthorized(EnvelopeRejected):
    code = "unauthorized"


class RateLimited(EnvelopeRejected):
    code = "rate-limited"


class UnknownActor(EnvelopeRejected):
    code = "unknown-actor"


class UnknownBehavior(EnvelopeRejected):
    code = "unknown-behavior"


class MisaddressedEnvelope(EnvelopeRejected):
    code = "misaddressed"


class InvokeTimeout(ActorError):
    """No reply arrived before the call's timeout."""

    code = "timeout"


class BehaviorFailed(ActorError):
    """A handler raised on purpose: the caller sees this code and message."""

    code = "behavior-failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class RemoteError(ActorError):
    """The invoked behavior answered with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.remote_message = message


class ActorStopped(ActorError):
    code = "actor-stopped"
