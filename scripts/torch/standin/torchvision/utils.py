"""`save_image` as pro_gan_pytorch calls it: a batch [N, C, H, W] in [0, 1] written as one PNG grid."""
import math

import numpy as np
import torch
from PIL import Image


def save_image(tensor: torch.Tensor, fp, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> None:
    images = tensor.detach().cpu().float()
    if images.dim() == 3:
        images = images.unsqueeze(0)
    count, channels, height, width = images.shape
    columns = max(1, min(nrow, count))
    rows = math.ceil(count / columns)
    grid = torch.full((channels, rows * (height + padding) + padding, columns * (width + padding) + padding), pad_value)
    for index in range(count):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[:, top:top + height, left:left + width] = images[index]
    pixels = (grid.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels).save(fp)
