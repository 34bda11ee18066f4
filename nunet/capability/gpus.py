"""GPU requirements matched device by device: each need gets a distinct device that meets it.

Assignment rule (deterministic): needs are seated from the most demanding (largest VRAM ask,
ties in request order); each takes the smallest adequate free device (by VRAM, then index), so
big devices stay free for later jobs. Only when every adequate device is taken does an augmenting
path re-seat earlier needs (Kuhn's algorithm), so an assignment is found whenever one exists: the
result is a maximum bipartite matching, not a greedy guess.
"""

from __future__ import annotations

from collections.abc import Sequence

from nunet.capability.model import Gpu, GpuNeed


def gpu_meets(need: GpuNeed, gpu: Gpu) -> bool:
    """Whether one device satisfies one need (VRAM at least, vendor, model, compute capability)."""
    if gpu.vram < need.vram:
        return False
    if need.vendor and need.vendor.lower() != gpu.vendor.lower():
        return False
    if need.model and need.model.lower() not in gpu.model.lower():
        return False
    if need.compute_capability:
        wanted = compute_capability_key(need.compute_capability)
        offered = compute_capability_key(gpu.compute_capability)
        if wanted is None or offered is None or offered < wanted:
            return False
    return True


def compute_capability_key(text: str) -> tuple[int, ...] | None:
    """`"8.6"` → (8, 6, 0), compared numerically so "10.0" > "9.0" and "9" == "9.0"; None if
    not `major[.minor[.patch]]`."""
    parts = text.strip().split(".")
    if len(parts) > 3 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts) + (0,) * (3 - len(parts))


def assign_gpus(needs: Sequence[GpuNeed], devices: Sequence[Gpu]) -> tuple[Gpu, ...] | None:
    """A distinct device for each need, ordered like `needs`; None when no assignment exists."""
    if len(needs) > len(devices):
        return None
    order = sorted(range(len(devices)), key=lambda d: (devices[d].vram, devices[d].index, d))
    adequate = [[d for d in order if gpu_meets(need, devices[d])] for need in needs]
    seat_of_device: dict[int, int] = {}

    def seat(need: int, visited: set[int]) -> bool:
        free = [d for d in adequate[need] if d not in seat_of_device]
        if free:  # a free device first: seated needs move only when they must
            seat_of_device[free[0]] = need
            return True
        for device in adequate[need]:
            if device in visited:
                continue
            visited.add(device)
            if seat(seat_of_device[device], visited):
                seat_of_device[device] = need
                return True
        return False

    for need in sorted(range(len(needs)), key=lambda n: (-needs[n].vram, n)):
        if not seat(need, set()):
            return None
    device_of_need = {need: device for device, need in seat_of_device.items()}
    return tuple(devices[device_of_need[n]] for n in range(len(needs)))
