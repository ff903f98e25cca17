"""The four transforms pro_gan_pytorch's data loader composes, acting on PIL images."""
import random

import numpy as np
import torch
from PIL import Image


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, image):
        return image.transpose(Image.FLIP_LEFT_RIGHT) if random.random() < self.p else image


class Resize:
    """Resizes to `size` (an int sets the shorter side, keeping the aspect ratio; a pair is (h, w))."""

    def __init__(self, size):
        self.size = size

    def __call__(self, image):
        width, height = image.size
        if isinstance(self.size, int):
            scale = self.size / min(width, height)
            target = (round(width * scale), round(height * scale))
        else:
            target = (self.size[1], self.size[0])
        return image.resize(target, Image.BILINEAR)


class ToTensor:
    """A PIL image (H, W, C) with 8-bit values to a float tensor [C, H, W] in [0, 1]."""

    def __call__(self, image):
        array = np.asarray(image, dtype=np.float32) / 255.0
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(array.transpose(2, 0, 1).copy())
