"""pro_gan_pytorch 3.4 saved models <-> progan safetensors.

    progan-pgp-convert to-safetensors MODEL.bin OUT.safetensors
    progan-pgp-convert to-pgp IN.safetensors OUT.bin
    (or python -m progan_torch.pgp_convert ...)

A pro_gan_pytorch saved model is what its ProGAN.train writes (torch.save of a dict with "generator",
"discriminator" and, with EMA, "shadow_generator", each {"conf": ..., "state_dict": ...}). The safetensors
side uses progan's names (`g/g.8x8.conv0.weight`, `g_ema/...`, `d/d.4x4.conv4x4.weight`, ...) with the
network in the metadata (`progan.network`, arch pgp), which is what `progan import` reads and
`progan export --net all` writes. Both layouts store raw weights (scaled by the equalized-learning-rate
constant at run time) with the same shapes, so conversion renames tensors and copies their bytes: a round
trip is exact. Errors are one line on stderr with exit status 1.
"""
import json
import os
import sys
import tempfile

# pro_gan_pytorch's widths: nf(stage) = clip(16384 / 2^stage, 1, 512), fixed in its networks.py.
FMAP_BASE, FMAP_MAX = 16384, 512
MBSTD_GROUP_SIZE = 4


class ConversionError(Exception):
    pass


def nf(stage: int) -> int:
    return max(1, min(int(FMAP_BASE / 2.0 ** stage), FMAP_MAX))


def generator_names(depth: int):
    """(pro_gan_pytorch name, progan name) pairs of a Generator(depth), in pro_gan_pytorch's order."""
    pairs = []
    for index in range(depth - 1):
        size = 4 << index
        block = f"g.{size}x{size}"
        first, second = (("dense", "conv") if index == 0 else ("conv0", "conv1"))
        for theirs, ours in (("conv_1", first), ("conv_2", second)):
            pairs += [(f"layers.{index}.{theirs}.{kind}", f"{block}.{ours}.{kind}") for kind in ("weight", "bias")]
    for index in range(depth - 1):
        size = 4 << index
        pairs += [(f"rgb_converters.{index}.{kind}", f"g.{size}x{size}.torgb.{kind}") for kind in ("weight", "bias")]
    return pairs


def discriminator_names(depth: int):
    """The same for a Discriminator(depth): its layers and from_rgb run from the highest resolution down."""
    pairs = []
    for index in range(depth - 2):
        size = 1 << (depth - index)
        for theirs, ours in (("conv_1", "conv0"), ("conv_2", "conv1")):
            pairs += [(f"layers.{index}.{theirs}.{kind}", f"d.{size}x{size}.{ours}.{kind}") for kind in ("weight", "bias")]
    final = depth - 2
    for theirs, ours in (("conv_1", "conv"), ("conv_2", "conv4x4"), ("conv_3", "conv1x1")):
        pairs += [(f"layers.{final}.{theirs}.{kind}", f"d.4x4.{ours}.{kind}") for kind in ("weight", "bias")]
    for index in range(depth - 1):
        size = 1 << (depth - index)
        pairs += [(f"from_rgb.{index}.0.{kind}", f"d.{size}x{size}.fromrgb.{kind}") for kind in ("weight", "bias")]
    return pairs


NETWORKS = (  # (pro_gan_pytorch key, progan net, names, required)
    ("generator", "g", generator_names, True),
    ("discriminator", "d", discriminator_names, True),
    ("shadow_generator", "g_ema", generator_names, False),
)


def require_torch(path: str):
    """(torch, safetensors with its torch API), or a one-line error saying what to install. Imported here
    rather than at the top so that a Python without them reports that instead of a traceback."""
    try:
        import torch
        import safetensors.torch
    except ImportError as error:
        raise ConversionError(f"{path}: converting pro_gan_pytorch models needs PyTorch and safetensors "
                              f"({error}): pip install torch safetensors")
    return torch, safetensors


def write_atomically(path: str, write) -> None:
    """write(temporary path), then rename over `path`: the file is always the old one or the whole new one."""
    directory = os.path.dirname(os.path.abspath(path))
    # torch.save names the archive inside after the file, and rejects a name starting with a dot.
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="pgp_convert-partial-", suffix=os.path.splitext(path)[1])
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def to_safetensors(model_path: str, out_path: str) -> None:
    torch, safetensors = require_torch(model_path)
    try:
        saved = torch.load(model_path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for files that are not its pickles
        raise ConversionError(f"{model_path}: not a readable PyTorch file ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})")
    if not isinstance(saved, dict) or "generator" not in saved:
        raise ConversionError(f"{model_path}: not a pro_gan_pytorch saved model (no 'generator' entry)")
    conf = saved["generator"].get("conf", {})
    depth, latent, channels = conf.get("depth"), conf.get("latent_size"), conf.get("num_channels", 3)
    if not conf.get("use_eql", False):
        raise ConversionError(f"{model_path}: use_eql is off; progan's pgp networks use the equalized learning rate")
    if not isinstance(depth, int) or not 2 <= depth <= 10:
        raise ConversionError(f"{model_path}: generator depth {depth!r} is not 2..10")
    tensors = {}
    for key, net, names, required in NETWORKS:
        if key not in saved:
            if required:
                raise ConversionError(f"{model_path}: no '{key}' entry (progan import needs both networks)")
            continue
        their_conf = saved[key]["conf"]
        if their_conf.get("depth") != depth or their_conf.get("latent_size") != latent or their_conf.get("num_channels", 3) != channels:
            raise ConversionError(f"{model_path}: {key} conf {their_conf} differs from the generator's")
        if their_conf.get("num_classes") is not None:
            raise ConversionError(f"{model_path}: a conditional discriminator (num_classes {their_conf['num_classes']}) is not supported")
        state = saved[key]["state_dict"]
        pairs = names(depth)
        expected = {theirs for theirs, _ in pairs}
        if set(state) != expected:
            extra, missing = sorted(set(state) - expected), sorted(expected - set(state))
            raise ConversionError(f"{model_path}: {key} state_dict is not a depth-{depth} pro_gan_pytorch network "
                                  f"(unexpected {extra[:3]}, missing {missing[:3]})")
        for theirs, ours in pairs:
            value = state[theirs]
            if value.dtype != torch.float32:
                raise ConversionError(f"{model_path}: {key} {theirs} is {value.dtype}; progan stores float32")
            tensors[f"{net}/{ours}"] = value.detach().contiguous()
    for stage in range(1, depth):
        maps = tensors[f"g/g.{4 << (stage - 1)}x{4 << (stage - 1)}.torgb.weight"].shape[1]
        if maps != nf(stage):
            raise ConversionError(f"{model_path}: {maps} maps at stage {stage}; pro_gan_pytorch 3.4 has nf({stage}) = {nf(stage)}")
    network = {"arch": "pgp", "resolution": 1 << depth, "fmap_base": FMAP_BASE, "fmap_decay": 1.0, "fmap_max": FMAP_MAX,
               "latent_size": latent, "mbstd_group_size": MBSTD_GROUP_SIZE, "image_channels": channels}
    metadata = {"format": "pt", "progan.network": json.dumps(network, sort_keys=True), "progan.weights": "raw",
                "progan.source": "pro_gan_pytorch 3.4 saved model " + os.path.basename(model_path)}
    write_atomically(out_path, lambda path: safetensors.torch.save_file(tensors, path, metadata=metadata))


def to_pgp(safetensors_path: str, out_path: str) -> None:
    torch, safetensors = require_torch(safetensors_path)
    try:
        with safetensors.safe_open(safetensors_path, framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = safetensors.torch.load_file(safetensors_path)
    except Exception as error:
        raise ConversionError(f"{safetensors_path}: not a readable safetensors file ({str(error).splitlines()[0] if str(error) else type(error).__name__})")
    if "progan.network" not in metadata:
        raise ConversionError(f"{safetensors_path}: no progan.network metadata (not written by progan export)")
    network = json.loads(metadata["progan.network"])
    if network.get("arch") != "pgp":
        raise ConversionError(f"{safetensors_path}: a {network.get('arch', 'progan')} network; pro_gan_pytorch needs --arch pgp")
    if (network["fmap_base"], network["fmap_max"], network["fmap_decay"]) != (FMAP_BASE, FMAP_MAX, 1.0):
        raise ConversionError(f"{safetensors_path}: fmap_base {network['fmap_base']}, fmap_max {network['fmap_max']}, "
                              f"fmap_decay {network['fmap_decay']}; pro_gan_pytorch 3.4 builds only {FMAP_BASE}, {FMAP_MAX}, 1")
    if metadata.get("progan.weights", "raw") != "raw":
        raise ConversionError(f"{safetensors_path}: weights are not stored raw")
    depth = network["resolution"].bit_length() - 1
    latent, channels = network.get("latent_size") or nf(0), network["image_channels"]
    saved = {}
    for key, net, names, required in NETWORKS:
        pairs = names(depth)
        if not any(f"{net}/{ours}" in tensors for _, ours in pairs):
            if required:
                raise ConversionError(f"{safetensors_path}: no '{net}/...' tensors (export with --net all)")
            continue
        missing = [f"{net}/{ours}" for _, ours in pairs if f"{net}/{ours}" not in tensors]
        if missing:
            raise ConversionError(f"{safetensors_path}: no tensor '{missing[0]}'")
        conf = {"depth": depth, "num_channels": channels, "latent_size": latent, "use_eql": True}
        if key == "discriminator":
            conf["num_classes"] = None
        saved[key] = {"conf": conf, "state_dict": {theirs: tensors[f"{net}/{ours}"] for theirs, ours in pairs}}
    write_atomically(out_path, lambda path: torch.save(saved, path))


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in ("to-safetensors", "to-pgp"):
        print("usage: progan-pgp-convert to-safetensors MODEL OUT.safetensors | to-pgp IN.safetensors OUT",
              file=sys.stderr)
        return 2
    try:
        (to_safetensors if sys.argv[1] == "to-safetensors" else to_pgp)(sys.argv[2], sys.argv[3])
    except ConversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {error.filename or sys.argv[3]}: {error.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
