"""The PIL side of the prepare benchmark (scripts/bench-data.bash): what StyleGAN2-ADA's dataset_tool.py does
per image -- PIL.Image.open, convert to RGB, centre crop, resize -- with progan's filter (BOX, area
averaging) and without writing, on WORKERS processes. Prints `images_per_second=X`.

Usage: pil_prepare.py FOLDER RESOLUTION WORKERS
"""
import multiprocessing
import os
import sys
import time

import numpy as np
import PIL.Image


def convert(path, resolution):
    with PIL.Image.open(path) as image:
        image = image.convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((resolution, resolution), PIL.Image.BOX)
        return np.asarray(image).shape


def main():
    folder, resolution, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    paths = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.lower().endswith((".png", ".jpg", ".jpeg"))
    )
    start = time.perf_counter()
    with multiprocessing.Pool(workers) as pool:
        pool.starmap(convert, [(path, resolution) for path in paths], chunksize=64)
    print(f"images_per_second={len(paths) / (time.perf_counter() - start):.1f} images={len(paths)}")


if __name__ == "__main__":
    main()
