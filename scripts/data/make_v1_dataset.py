"""Writes a prepared dataset in format version 1 (the format before session 6) holding the pixels of an
unlabelled version 2 file, from the two formats' descriptions (Sources/Dataset/LegacyDataset.swift and
DatasetLayout.swift) rather than from progan's code: the old-format file the checks train from and upgrade.

Usage: make_v1_dataset.py V2.pgds V1.pgds
"""
import struct
import sys
import zlib

PAGE = 4096


def aligned(offset):
    return (offset + PAGE - 1) // PAGE * PAGE


def main(source, target):
    data = open(source, "rb").read()
    assert data[:8] == b"PGDSET\0\0" and struct.unpack_from("<I", data, 8)[0] == 2, "not a version 2 dataset"
    resolution, count, channels, levels, chunk, classes, names = struct.unpack_from("<7I", data, 12)
    (sources,) = struct.unpack_from("<Q", data, 40)
    assert classes == 0, "version 1 files hold no labels"
    sides = [4 << level for level in range(levels)]
    sizes = [sources] + [count * channels * side * side for side in sides]
    chunks = sum((size + chunk - 1) // chunk for size in sizes)
    offset = aligned(64 + names + 4 * chunks)
    body = bytearray(struct.pack("<8s5I", b"PGDSET\0\0", 1, resolution, count, channels, levels))
    for index, size in enumerate(sizes):
        if index > 0:
            body += data[offset:offset + size]
        offset = aligned(offset + size)
    body += struct.pack("<I", zlib.crc32(body))
    with open(target, "wb") as file:
        file.write(body)


if __name__ == "__main__":
    main(*sys.argv[1:])
