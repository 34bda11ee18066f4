"""Errors of executors: each says which execution and what went wrong, in words a user can act on."""

from __future__ import annotations

from nunet.errors import NunetError


class ExecutorError(NunetError):
    """Base of every executor error."""

    code = "executor-error"


class InvalidSpec(ExecutorError):
    """The execution spec is malformed or asks for what this node does not allow."""

    code = "invalid-spec"


class ImageNotFound(ExecutorError):
    code = "image-not-found"


class ExecutorUnavailable(ExecutorError):
    """The backend is missing or not answering (no engine, no hypervisor, no kernel)."""

    code = "executor-unavailable"


class UnknownExecution(ExecutorError):
    code = "unknown-execution"


class IllegalTransition(ExecutorError):
    """A lifecycle step out of order (start before prepare, ...)."""

    code = "illegal-transition"


class ExecutionFailed(ExecutorError):
    """The execution could not be prepared, started or kept running."""

    code = "execution-failed"
