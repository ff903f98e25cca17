#!/usr/bin/env python3
"""small_checkpoint.py IN OUT_DIR: writes small valid checkpoints derived from IN (a real one) as fuzz seeds.

A real checkpoint is hundreds of KB of floats, which makes every fuzz execution slow and gives the
mutator little chance to hit the header, the JSON state or the tensor table. The seeds keep the real
state (config, counters) and shrink the buffers: small.ckpt has every tensor reshaped to 2 floats (same rank),
stateonly.ckpt has an empty tensor table and no buffers. Both parse as valid checkpoints.
"""
import json, struct, sys, zlib

def sections(data):
    assert data[:8] == b"PROGANCK"
    count = struct.unpack_from("<I", data, 12)[0]
    offset, out = 16, {}
    for _ in range(count):
        (name_length,) = struct.unpack_from("<I", data, offset)
        name = data[offset + 4 : offset + 4 + name_length].decode()
        (payload_length,) = struct.unpack_from("<Q", data, offset + 4 + name_length)
        start = offset + 12 + name_length
        out[name] = data[start : start + payload_length]
        offset = start + payload_length + 4
    return out

def serialize(state, buffers):
    body = [b"PROGANCK", struct.pack("<II", 1, len(buffers) + 1)]
    items = [("state", json.dumps(state, sort_keys=True, separators=(",", ":")).encode())]
    items += sorted(buffers.items())
    for name, payload in items:
        raw = name.encode()
        body += [struct.pack("<I", len(raw)), raw, struct.pack("<Q", len(payload)), payload,
                 struct.pack("<I", zlib.crc32(raw + payload) & 0xFFFFFFFF)]
    return b"".join(body)

source, out_dir = sys.argv[1], sys.argv[2]
parts = sections(open(source, "rb").read())
state = json.loads(parts.pop("state"))
sizes = {}
for entry in state["tensors"]:
    entry["shape"] = [1] * (len(entry["shape"]) - 1) + [2]  # the real rank, 2 floats
    entry["offset"] = sizes.get(entry["section"], 0)
    sizes[entry["section"]] = entry["offset"] + 2
buffers = {name: struct.pack("<%df" % n, *[0.5 * i for i in range(n)]) for name, n in sizes.items()}
open(f"{out_dir}/small.ckpt", "wb").write(serialize(state, buffers))
state["tensors"] = []
open(f"{out_dir}/stateonly.ckpt", "wb").write(serialize(state, {}))
