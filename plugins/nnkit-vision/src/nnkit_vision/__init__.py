"""nnkit-vision: convolution and pooling layers for images, ``(channels, height, width)``.

Registered through this distribution's ``[project.entry-points.nnkit]`` table only; nnkit
itself knows nothing of it.
"""

from __future__ import annotations

import nnkit
from nnkit.registry.hookspecs import Register
from nnkit_vision.augmentation import (
    RandomCrop,
    RandomFlip,
    RandomNoise,
    RandomRotation,
    RandomTranslation,
)
from nnkit_vision.borders import Cropping2D, ZeroPadding2D
from nnkit_vision.convolution import Conv2D
from nnkit_vision.dropout import SpatialDropout2D
from nnkit_vision.pooling import AvgPool2D, GlobalAvgPool2D, GlobalMaxPool2D, MaxPool2D
from nnkit_vision.transposed import Conv2DTranspose
from nnkit_vision.upsampling import UpSampling2D

__all__ = [
    "AvgPool2D",
    "Conv2D",
    "Conv2DTranspose",
    "Cropping2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "MaxPool2D",
    "RandomCrop",
    "RandomFlip",
    "RandomNoise",
    "RandomRotation",
    "RandomTranslation",
    "SpatialDropout2D",
    "UpSampling2D",
    "ZeroPadding2D",
]

__version__ = "0.1.0"


@nnkit.hookimpl
def register_layers(register: Register) -> None:
    register("conv2d", Conv2D)
    register("max_pool2d", MaxPool2D)
    register("avg_pool2d", AvgPool2D)
    register("global_avg_pool2d", GlobalAvgPool2D)
    register("global_max_pool2d", GlobalMaxPool2D)
    register("zero_padding2d", ZeroPadding2D)
    register("cropping2d", Cropping2D)
    register("upsampling2d", UpSampling2D)
    register("conv2d_transpose", Conv2DTranspose)
    register("spatial_dropout2d", SpatialDropout2D)
    register("random_flip", RandomFlip)
    register("random_crop", RandomCrop)
    register("random_translation", RandomTranslation)
    register("random_rotation", RandomRotation)
    register("random_noise", RandomNoise)
