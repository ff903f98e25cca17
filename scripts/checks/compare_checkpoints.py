#!/usr/bin/env python3
"""Compares the float sections of two progan checkpoints (format version 1, see
Sources/Training/Checkpoint.swift) and fails if any differs by more than the tolerance.

Usage: compare_checkpoints.py A B [--tolerance T]
The difference of a section is max|a - b| / max|b|: relative to the section's scale, so that
near-zero weights do not turn rounding into huge relative errors."""
import argparse
import struct
import sys


def sections(path):
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:8] != b"PROGANCK":
        sys.exit(f"{path}: not a progan checkpoint")
    version, count = struct.unpack_from("<II", data, 8)
    if version != 1:
        sys.exit(f"{path}: format version {version}, this script reads 1")
    offset, result = 16, {}
    for _ in range(count):
        (name_length,) = struct.unpack_from("<I", data, offset)
        name = data[offset + 4:offset + 4 + name_length].decode()
        offset += 4 + name_length
        (length,) = struct.unpack_from("<Q", data, offset)
        payload = data[offset + 8:offset + 8 + length]
        offset += 8 + length + 4
        if name != "state":
            result[name] = struct.unpack(f"<{length // 4}f", payload)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    arguments = parser.parse_args()
    first, second = sections(arguments.a), sections(arguments.b)
    if first.keys() != second.keys():
        sys.exit(f"different sections: {sorted(first)} vs {sorted(second)}")
    worst = 0.0
    for name in sorted(first):
        a, b = first[name], second[name]
        if len(a) != len(b):
            sys.exit(f"section {name}: {len(a)} vs {len(b)} values")
        scale = max((abs(value) for value in b), default=0.0) or 1.0
        difference = max((abs(x - y) for x, y in zip(a, b)), default=0.0) / scale
        worst = max(worst, difference)
        print(f"{name:10s} {len(a):9d} values  max difference {difference:.3e} of the section's scale")
    if worst > arguments.tolerance:
        sys.exit(f"largest difference {worst:.3e} exceeds {arguments.tolerance:.1e}")
    print(f"largest difference {worst:.3e} <= {arguments.tolerance:.1e}")


if __name__ == "__main__":
    main()
