"""Checks a `progan export` against its reference samples: the PyTorch generator of the progan_torch package
(`pip install ./scripts/torch`), built from the export, must make the same images from the same latents as
progan did, within --tolerance.

    python scripts/torch/check_export.py model.safetensors [--samples model.samples.safetensors] [--tolerance 1e-4]

Prints one line with the largest absolute difference; exits 1 when it exceeds the tolerance.
"""
import argparse
import os
import sys

import torch
from progan_torch import load_generator, read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("export")
    parser.add_argument("--samples", help="default: EXPORT with .samples.safetensors for its extension")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    samples_path = args.samples or os.path.splitext(args.export)[0] + ".samples.safetensors"
    samples, metadata = read(samples_path)
    resolution, alpha = int(metadata["progan.resolution"]), float(metadata["progan.alpha"])
    generator = load_generator(args.export, metadata["progan.generator"])
    with torch.no_grad():
        images = generator(samples["latents"], resolution=resolution, alpha=alpha, labels=samples.get("labels"))
    expected = samples["images"]
    if images.shape != expected.shape:
        print(f"check_export: FAIL: PyTorch made images {tuple(images.shape)}, progan {tuple(expected.shape)}")
        return 1
    difference = (images - expected).abs().max().item()
    verdict = "OK" if difference <= args.tolerance else "FAIL"
    classes = f", {len(generator.class_names)} classes" if generator.class_names else ""
    print(f"check_export: {verdict}: {generator.arch}{classes} {metadata['progan.generator']}, {len(expected)} latents "
          f"at {resolution}x{resolution} alpha {alpha:g}: max |PyTorch - progan| = {difference:.3g} "
          f"(tolerance {args.tolerance:g}; images span {expected.min().item():.3g}..{expected.max().item():.3g})")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
