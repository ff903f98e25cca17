"""Colour classes of PNG images, for the conditional-training check (scripts/checks/conditional.sh).

    python3 colour_classes.py split EMOJI_DIR OUT_DIR N    # OUT_DIR/{blue,red,yellow}/: the N most of each colour
    python3 colour_classes.py compare REAL_DIR MADE_DIR    # exit 1 unless every MADE_DIR/CLASS/*.png's mean colour
                                                           # is nearest REAL_DIR/CLASS's among the classes

Mean colours are of the images as progan prepares them: transparency composited onto white. PNGs are decoded here
(8-bit RGB or RGBA, not interlaced: the emoji set and progan's own output) with numpy only, so the check needs no
imaging package.
"""
import os
import shutil
import struct
import sys
import zlib

import numpy as np

def chunks(path):
    """(width, height, colour type, bit depth, interlace, compressed pixel data) of a PNG file, or None."""
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        return None
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        if kind == b'IHDR':
            header = struct.unpack('>IIBBBBB', data[pos + 8:pos + 21])
        elif kind == b'IDAT':
            idat.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    return width, height, colour, depth, interlace, b''.join(idat)


def mean_colours(paths):
    """Mean RGB of each 8-bit RGB/RGBA PNG, transparency composited onto white (as progan prepare does); None for
    other formats. Images of one shape are unfiltered together, a pixel column at a time across the batch."""
    parsed = [chunks(path) for path in paths]
    groups = {}
    for index, item in enumerate(parsed):
        if item and item[3] == 8 and item[2] in (2, 6) and not item[4]:
            groups.setdefault(item[:3], []).append(index)
    means = [None] * len(paths)
    for (width, height, colour), members in groups.items():
        bpp = 3 if colour == 2 else 4
        raw = np.stack([np.frombuffer(zlib.decompress(parsed[i][5]), np.uint8).reshape(height, 1 + width * bpp)
                        for i in members]).astype(np.int32)
        count, previous = len(members), np.zeros((len(members), width * bpp), np.int32)
        pixels = np.zeros((count, height, width * bpp), np.int32)
        zero = np.zeros((count, bpp), np.int32)
        for y in range(height):
            kind, line, row = raw[:, y, :1], raw[:, y, 1:], np.zeros((count, width * bpp), np.int32)
            for x in range(0, width * bpp, bpp):
                left = row[:, x - bpp:x] if x else zero
                up, upleft = previous[:, x:x + bpp], (previous[:, x - bpp:x] if x else zero)
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
                predicted = np.select([kind == 1, kind == 2, kind == 3, kind == 4],
                                      [left, up, (left + up) >> 1, paeth], 0)
                row[:, x:x + bpp] = (line[:, x:x + bpp] + predicted) & 255
            pixels[:, y], previous = row, row
        image = pixels.reshape(count, height, width, bpp).astype(np.float64)
        if bpp == 4:
            alpha = image[..., 3:] / 255
            image = image[..., :3] * alpha + 255 * (1 - alpha)
        for i, mean in zip(members, image.reshape(count, -1, 3).mean(1)):
            means[i] = mean
    return means


# How strongly a mean colour (r, g, b) leans to each class; the white background pulls every mean toward grey.
LEANINGS = {
    "blue": lambda r, g, b: b - max(r, g),
    "red": lambda r, g, b: r - max(g, b),
    "yellow": lambda r, g, b: min(r, g) - b,
}


def pngs(folder):
    return sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".png"))


def split(source, out, per_class):
    paths = pngs(source)
    means = mean_colours(paths)
    for name, leaning in LEANINGS.items():
        ranked = sorted((leaning(*mean), path) for path, mean in zip(paths, means) if mean is not None)
        os.makedirs(os.path.join(out, name))
        for score, path in ranked[-per_class:]:
            shutil.copy(path, os.path.join(out, name))
        print(f"{name}: {per_class} images, leaning {ranked[-per_class][0]:.0f} to {ranked[-1][0]:.0f}")


def class_means(folder):
    means = {}
    for name in sorted(os.listdir(folder)):
        found = [m for m in mean_colours(pngs(os.path.join(folder, name))) if m is not None]
        if found:
            means[name] = np.mean(found, axis=0)
    return means


def compare(real_folder, made_folder):
    real, made = class_means(real_folder), class_means(made_folder)
    wrong = 0
    for name, mean in made.items():
        distances = {other: float(np.linalg.norm(mean - value)) for other, value in real.items()}
        nearest = min(distances, key=distances.get)
        wrong += nearest != name
        print(f"--class {name}: mean RGB {np.round(mean).astype(int).tolist()}, nearest real class {nearest} "
              f"(distances {', '.join(f'{k} {v:.0f}' for k, v in distances.items())})")
    return 1 if wrong or len(made) < 2 else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["split"] and len(sys.argv) == 5:
        split(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
