"""progan's generator in PyTorch, built from a `progan export` safetensors file.

    from progan_torch import load_generator
    generator = load_generator("model.safetensors")             # the exported net (g_ema by default)
    images = generator(latents, resolution=32, alpha=1.0)        # [N, 3, 32, 32] in about [-1, 1]
    images = generator(latents, resolution=32, labels=one_hot)   # a conditional export: classes [N, K]
    generator.class_names                                        # its classes in label order ([] if none)

The file's metadata says which architecture (`arch`: progan, the official networks, or pgp, pro_gan_pytorch's)
and which widths (`progan.network`); weights are stored raw and multiplied at run time by their
equalized-learning-rate scale from `progan.weight_scales`, exactly as progan and pro_gan_pytorch do.
Parameter names are progan's (g.4x4.dense.weight, g.8x8.conv0.weight, g.8x8.torgb.weight, ...). A conditional
generator (`conditioning` in `progan.network`) reads the one-hot class after the latent, as the official ProGAN
does: the pixel norm and the first dense layer see their concatenation.
"""
import json

import torch
import torch.nn.functional as F
from safetensors import safe_open


def features(network: dict, stage: int) -> int:
    """Feature maps of a stage: a G block at resolution 2^r has features(r - 1) maps."""
    return max(1, min(int(network["fmap_base"] / 2.0 ** (stage * network["fmap_decay"])), network["fmap_max"]))


def pixel_norm(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class Generator(torch.nn.Module):
    def __init__(self, network: dict, weights: dict, scales: dict):
        super().__init__()
        self.network = network
        self.arch = network.get("arch", "progan")
        self.latent_size = network.get("latent_size") or features(network, 0)
        self.class_names = list((network.get("conditioning") or {}).get("class_names", []))
        # Parameter names contain dots, which nn.Module attribute names may not.
        self.weights = torch.nn.ParameterDict({name.replace(".", "__"): torch.nn.Parameter(value, requires_grad=False)
                                               for name, value in weights.items()})
        self.scales = dict(scales)

    def _parameter(self, name: str) -> torch.Tensor:
        return self.weights[name.replace(".", "__")]

    def _weight(self, name: str) -> torch.Tensor:
        return self._parameter(name + ".weight") * self.scales[name + ".weight"]

    def _conv(self, name: str, x: torch.Tensor) -> torch.Tensor:
        weight = self._weight(name)
        return F.conv2d(x, weight, self._parameter(name + ".bias"), padding=weight.shape[-1] // 2)

    def _project_latent(self, z: torch.Tensor) -> torch.Tensor:
        """The latent to 4x4 maps: a dense layer officially, a 4x4 transposed conv of a 1x1 input in pgp."""
        weight, maps = self._weight("g.4x4.dense"), features(self.network, 1)
        if self.arch == "pgp":
            maps4x4 = z @ weight.reshape(weight.shape[0], maps * 16)
        else:
            maps4x4 = z @ weight.t()
        return maps4x4.reshape(-1, maps, 4, 4) + self._parameter("g.4x4.dense.bias").reshape(1, -1, 1, 1)

    def forward(self, latents: torch.Tensor, resolution: int, alpha: float = 1.0,
                labels: torch.Tensor = None) -> torch.Tensor:
        """Images from latents [N, latent] and, for a conditional generator, one-hot classes [N, classes]
        (default: sample i of class i mod classes, as progan's own default)."""
        if self.class_names:
            if labels is None:
                labels = F.one_hot(torch.arange(len(latents)) % len(self.class_names), len(self.class_names))
            latents = torch.cat([latents, labels.to(latents.dtype)], dim=1)
        x = leaky_relu(self._project_latent(pixel_norm(latents)))
        if self.arch == "progan":  # pgp normalizes only after the 4x4 block's second conv
            x = pixel_norm(x)
        x = pixel_norm(leaky_relu(self._conv("g.4x4.conv", x)))
        size = 4
        while size < resolution:
            previous, size = x, size * 2
            block = f"g.{size}x{size}"
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = pixel_norm(leaky_relu(self._conv(block + ".conv0", x)))
            x = pixel_norm(leaky_relu(self._conv(block + ".conv1", x)))
            if size == resolution and alpha < 1:
                old = F.interpolate(self._conv(f"g.{size // 2}x{size // 2}.torgb", previous), scale_factor=2, mode="nearest")
                new = self._conv(block + ".torgb", x)
                return old + alpha * (new - old)
        return self._conv(f"g.{size}x{size}.torgb", x)


def read(path: str):
    """(tensors by name, metadata) of a safetensors file."""
    with safe_open(path, framework="pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata() or {}


def load_generator(path: str, net: str = None) -> Generator:
    """The generator `net` (g or g_ema; default: the one the file holds, g_ema if both) of a progan export."""
    tensors, metadata = read(path)
    if "progan.network" not in metadata:
        raise ValueError(f"{path}: no progan.network metadata (not written by progan export)")
    if metadata.get("progan.weights") != "raw":
        raise ValueError(f"{path}: progan.weights is {metadata.get('progan.weights')!r}; this loader reads raw weights")
    present = {name.split("/", 1)[0] for name in tensors}
    net = net or ("g_ema" if "g_ema" in present else "g")
    if net not in present or net == "d":
        raise ValueError(f"{path}: holds no generator '{net}' (nets: {', '.join(sorted(present))})")
    prefix = net + "/"
    weights = {name[len(prefix):]: value for name, value in tensors.items() if name.startswith(prefix)}
    generator = Generator(json.loads(metadata["progan.network"]), weights, json.loads(metadata["progan.weight_scales"]))
    return generator.eval()
