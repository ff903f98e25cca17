"""Writes COUNT PNGs and COUNT JPEGs of SIDE x SIDE (emoji composited onto white, enlarged, shifted in
hue per copy so no two files are equal) into OUT/png and OUT/jpg, for the prepare benchmark.

Usage: make_images.py EMOJI_FOLDER OUT COUNT SIDE
"""
import os
import sys

import PIL.Image


def main():
    emoji, out, count, side = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sources = sorted(os.path.join(emoji, name) for name in os.listdir(emoji) if name.endswith(".png"))
    os.makedirs(os.path.join(out, "png"), exist_ok=True)
    os.makedirs(os.path.join(out, "jpg"), exist_ok=True)
    for index in range(count):
        with PIL.Image.open(sources[index % len(sources)]) as image:
            rgba = image.convert("RGBA")
        white = PIL.Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = PIL.Image.alpha_composite(white, rgba).convert("RGB").resize((side, side), PIL.Image.BICUBIC)
        shift = index // len(sources)
        rgb = PIL.Image.merge("RGB", [band.point(lambda v, s=shift * (k + 1): (v + s) % 256) for k, band in enumerate(rgb.split())])
        rgb.save(os.path.join(out, "png", f"{index:05d}.png"))
        rgb.save(os.path.join(out, "jpg", f"{index:05d}.jpg"), quality=90)


if __name__ == "__main__":
    main()
