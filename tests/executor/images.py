"""Test images built on this machine (nothing can be pulled here); they live in the product
(`nunet.devstack.images`) because the main job and the benchmarks run them too."""

from nunet.devstack.images import (
    BUSYBOX_IMAGE,
    ImageUnavailable,
    docker_available,
    ensure_busybox_image,
    image_id,
)

__all__ = [
    "BUSYBOX_IMAGE",
    "ImageUnavailable",
    "docker_available",
    "ensure_busybox_image",
    "image_id",
]
