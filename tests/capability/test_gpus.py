"""GPU needs are met device by device: a distinct device per need, found whenever one exists."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.capability import Gpu, GpuNeed, assign_gpus, gpu_meets
from tests.capability.strategies import GIB, gpu_needs, gpus

A100 = Gpu(
    index=0, vendor="nvidia", model="NVIDIA A100-SXM4-80GB", vram=80 * GIB, compute_capability="8.0"
)
H100 = Gpu(
    index=1, vendor="nvidia", model="NVIDIA H100 PCIe", vram=80 * GIB, compute_capability="9.0"
)
T4 = Gpu(index=2, vendor="nvidia", model="Tesla T4", vram=16 * GIB, compute_capability="7.5")
MI300 = Gpu(index=3, vendor="amd", model="Instinct MI300X", vram=192 * GIB)


@pytest.mark.parametrize(
    ("need", "gpu", "meets"),
    [
        (GpuNeed(), T4, True),
        (GpuNeed(vram=16 * GIB), T4, True),
        (GpuNeed(vram=16 * GIB + 1), T4, False),
        (GpuNeed(vendor="nvidia"), T4, True),
        (GpuNeed(vendor="NVIDIA"), T4, True),
        (GpuNeed(vendor="amd"), T4, False),
        (GpuNeed(model="a100"), A100, True),
        (GpuNeed(model="A100"), H100, False),
        (GpuNeed(model="t4"), T4, True),
        (GpuNeed(compute_capability="8.0"), A100, True),
        (GpuNeed(compute_capability="8.6"), A100, False),
        (GpuNeed(compute_capability="8.6"), H100, True),
        (GpuNeed(compute_capability="9"), H100, True),
        (GpuNeed(compute_capability="9.0.1"), H100, False),
        (GpuNeed(compute_capability="10.0"), H100, False),
        (GpuNeed(compute_capability="7.5"), MI300, False),  # no capability: not at least 7.5
        (GpuNeed(compute_capability="x"), H100, False),
        (GpuNeed(vram=100 * GIB, vendor="amd", model="mi300"), MI300, True),
    ],
)
def test_a_device_meets_a_need_field_by_field(need: GpuNeed, gpu: Gpu, meets: bool) -> None:
    assert gpu_meets(need, gpu) is meets


def test_compute_capability_compares_numerically_not_as_text() -> None:
    ten = Gpu(index=0, vendor="nvidia", model="future", vram=GIB, compute_capability="10.0")
    assert gpu_meets(GpuNeed(compute_capability="9.0"), ten)
    assert not gpu_meets(GpuNeed(compute_capability="10.1"), ten)


def test_each_need_gets_the_smallest_adequate_device_so_big_ones_stay_free() -> None:
    assert assign_gpus([GpuNeed(vram=8 * GIB)], [MI300, A100, T4]) == (T4,)
    assert assign_gpus([GpuNeed(vram=20 * GIB)], [MI300, H100, A100]) == (A100,)


def test_an_augmenting_path_reseats_an_earlier_need_when_greedy_would_fail() -> None:
    small_nvidia = Gpu(index=0, vendor="nvidia", model="T4", vram=16 * GIB)
    big_amd = Gpu(index=1, vendor="amd", model="MI300", vram=192 * GIB)
    needs = [GpuNeed(vram=10 * GIB), GpuNeed(vram=10 * GIB, vendor="nvidia")]
    # Greedily, the first need takes the small NVIDIA device and the second finds none left.
    assert assign_gpus(needs, [small_nvidia, big_amd]) == (big_amd, small_nvidia)


def test_devices_are_never_shared_between_needs() -> None:
    assert assign_gpus([GpuNeed(), GpuNeed()], [T4]) is None
    assert assign_gpus([GpuNeed(), GpuNeed()], [T4, A100]) == (T4, A100)


def test_no_needs_take_no_devices() -> None:
    assert assign_gpus([], []) == ()
    assert assign_gpus([], [T4]) == ()


def _exists(needs: list[GpuNeed], devices: tuple[Gpu, ...]) -> bool:
    return any(
        all(gpu_meets(need, devices[d]) for need, d in zip(needs, chosen, strict=True))
        for chosen in itertools.permutations(range(len(devices)), len(needs))
    )


@given(st.lists(gpu_needs, max_size=4), gpus(max_size=5))
def test_an_assignment_is_found_exactly_when_brute_force_finds_one(
    needs: list[GpuNeed], devices: tuple[Gpu, ...]
) -> None:
    chosen = assign_gpus(needs, devices)
    assert (chosen is not None) == _exists(needs, devices)
    if chosen is not None:
        assert len(chosen) == len(needs)
        assert all(gpu_meets(need, gpu) for need, gpu in zip(needs, chosen, strict=True))
        # Distinct devices: no device is used more often than it is present.
        assert not Counter(chosen) - Counter(devices)


@given(st.lists(gpu_needs, max_size=4), gpus(max_size=5), st.randoms())
def test_the_assignment_does_not_depend_on_the_order_devices_are_listed(
    needs: list[GpuNeed], devices: tuple[Gpu, ...], shuffler: random.Random
) -> None:
    shuffled = list(devices)
    shuffler.shuffle(shuffled)
    assert assign_gpus(needs, devices) == assign_gpus(needs, shuffled)
    assert assign_gpus(needs, devices) == assign_gpus(needs, devices)


@given(gpu_needs, gpus(max_size=5))
def test_a_single_need_takes_the_smallest_device_that_meets_it(
    need: GpuNeed, devices: tuple[Gpu, ...]
) -> None:
    adequate = [g for g in devices if gpu_meets(need, g)]
    chosen = assign_gpus([need], devices)
    if not adequate:
        assert chosen is None
    else:
        assert chosen is not None
        assert chosen[0] == min(adequate, key=lambda g: (g.vram, g.index))
