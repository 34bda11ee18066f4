"""Why something about the machine could not be detected."""

from __future__ import annotations

from nunet.errors import NunetError


class HardwareDetectionError(NunetError):
    """A fact about the machine could not be read (a missing /proc file, a disk path)."""


class GpuDetectionError(HardwareDetectionError):
    """A GPU backend could not list its devices."""


class ToolMissing(GpuDetectionError):
    """The backend's tool or library is not installed (not on PATH, not loadable)."""


class ToolFailed(GpuDetectionError):
    """The tool ran but failed: a non-zero exit, a timeout, a driver error."""


class ToolOutputInvalid(GpuDetectionError):
    """The tool answered with output its parser does not understand."""
