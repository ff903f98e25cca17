#!/usr/bin/env bash
# TensorBoard's own reader (EventAccumulator, from the tensorboard package on PyPI) reads a tiny run's
# event files: one scalar per numeric metric with the values of metrics.jsonl (SWD and MS-SSIM included,
# measured every 4 ticks), one sample grid per tick.
# A resume from an older checkpoint adds a file whose restart marker drops the abandoned ticks, so the
# events again agree with the (truncated and re-grown) metrics.jsonl.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
use_python tensorboard
run=$work/run
train_tiny "$run" --swd-ticks 4 --swd-images 32
older=$(find "$run/checkpoints" -name 'step-*.ckpt' | sort | head -1)
[[ -n $older ]] || fail "no step checkpoint to resume from"
train_tiny "$run" --swd-ticks 4 --swd-images 32 --resume "$older"
(($(find "$run/tensorboard" -name 'events.out.tfevents.*' | wc -l) == 2)) || fail "expected one event file per start"

"$python" - "$run" <<'PY' || fail "the events do not match metrics.jsonl"
import json, struct, sys
from tensorboard.backend.event_processing import event_accumulator

run = sys.argv[1]
ticks = [json.loads(line) for line in open(f"{run}/metrics.jsonl")]
events = event_accumulator.EventAccumulator(f"{run}/tensorboard", size_guidance={"scalars": 0, "images": 0})
events.Reload()
numeric = {key for tick in ticks for key, value in tick.items() if isinstance(value, (int, float))} - {"tick", "step", "kimg"}
tags = set(events.Tags()["scalars"])
assert tags == numeric, f"scalar tags {sorted(tags)} but numeric metrics {sorted(numeric)}"
assert {"swd_16", "swd_mean", "ms_ssim"} <= tags, "the SWD measured during training is missing"
for tag in sorted(tags):
    points = [(point.step, point.value) for point in events.Scalars(tag)]
    # Values as float32, as the events store them; the step axis is images shown.
    expected = [(round(tick["kimg"] * 1000), struct.unpack("f", struct.pack("f", tick[tag]))[0]) for tick in ticks if tag in tick]
    assert points == expected, f"{tag}: {points} in the events, {expected} in metrics.jsonl"
images = events.Images("samples")
assert [image.step for image in images] == [round(tick["kimg"] * 1000) for tick in ticks], "one grid per tick"
for image, tick in zip(images, ticks):
    with open(f"{run}/{tick['grid']}", "rb") as grid:
        width, height = struct.unpack(">II", grid.read(24)[16:24])
    assert (image.width, image.height) == (width, height), f"image {image.width}x{image.height}, grid {width}x{height}"
    assert image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
print(f"EventAccumulator: {len(tags)} scalar tags x {len(ticks)} ticks equal to metrics.jsonl, "
      f"{len(images)} grids of {images[0].width}x{images[0].height}; ticks after the resume point replaced")
PY
