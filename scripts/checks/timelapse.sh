#!/usr/bin/env bash
# `progan timelapse` turns a tiny run's grids into an animated PNG without ffmpeg (one frame per tick,
# scaled up to at least 512 pixels wide) and into an MP4 through ffmpeg when it is installed;
# `progan interpolate --video` writes the same formats. Bad input gives one-line errors.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
run=$work/run
train_tiny "$run"
ticks=$(wc -l <"$run/metrics.jsonl")

# apng_frames FILE: "frames width height" from acTL and IHDR, after checking every chunk's CRC.
apng_frames() {
    python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
offset, chunks = 8, {}
while offset < len(data):
    length, kind = struct.unpack(">I4s", data[offset:offset + 8])
    body = data[offset + 8:offset + 8 + length]
    assert struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])[0] == zlib.crc32(kind + body), f"bad CRC in {kind}"
    chunks.setdefault(kind, []).append(body)
    offset += 12 + length
frames = struct.unpack(">I", chunks[b"acTL"][0][:4])[0]
assert len(chunks[b"fcTL"]) == frames, "fcTL count differs from acTL"
width, height = struct.unpack(">II", chunks[b"IHDR"][0][:8])
print(frames, width, height)
PY
}

# Without ffmpeg on PATH (progan is called by its full path), the default is an animated PNG.
PATH=/nonexistent "$progan" timelapse "$run" || fail "timelapse without ffmpeg failed"
read -r frames width height < <(apng_frames "$run/timelapse.png") || fail "timelapse.png is not a valid APNG"
grid_width=$(python3 -c 'import struct,sys; print(struct.unpack(">I", open(sys.argv[1],"rb").read()[16:20])[0])' "$run/samples/tick-000001.png")
((frames == ticks)) || fail "$frames frames for $ticks ticks"
((width >= 512 && width % grid_width == 0)) || fail "frames $width wide are not a whole multiple (>= 512) of the $grid_width-pixel grid"
echo "APNG: $frames frames of ${width}x$height"
expect_error "an .mp4 without ffmpeg" "needs ffmpeg on PATH" env PATH=/nonexistent "$progan" timelapse "$run" --out "$work/t.mp4"
expect_error "a folder that is not a run" "$work: not a run directory" "$progan" timelapse "$work"
expect_error "an unknown output type" "$work/t.gif: unknown animation type" "$progan" timelapse "$run" --out "$work/t.gif"

"$progan" interpolate "$run/checkpoints/final.ckpt" --keyframes 2 --frames-per-keyframe 3 --video "$work/walk.png" ||
    fail "interpolate --video failed"
read -r frames width height < <(apng_frames "$work/walk.png") || fail "walk.png is not a valid APNG"
((frames == 6)) || fail "interpolate wrote $frames frames, expected 6"
echo "interpolate APNG: $frames frames of ${width}x$height"

if ! command -v ffmpeg >/dev/null; then
    echo "ffmpeg is not installed: the MP4 path is not exercised (apt-get install ffmpeg to include it)"
    exit 0
fi
# count_frames FILE: "frames,width,height" of the video stream, as ffprobe decodes it.
count_frames() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames,width,height -of csv=p=0 "$1"; }
"$progan" timelapse "$run" || fail "timelapse with ffmpeg failed"
IFS=, read -r vwidth vheight vframes < <(count_frames "$run/timelapse.mp4")
((vframes == ticks && vwidth >= 512)) || fail "timelapse.mp4: $vframes frames of ${vwidth}x$vheight for $ticks ticks"
echo "MP4: $vframes frames of ${vwidth}x$vheight"
"$progan" interpolate "$run/checkpoints/final.ckpt" --keyframes 2 --frames-per-keyframe 3 --video "$work/walk.mp4" ||
    fail "interpolate --video .mp4 failed"
IFS=, read -r vwidth vheight vframes < <(count_frames "$work/walk.mp4")
((vframes == 6)) || fail "walk.mp4 has $vframes frames, expected 6"
echo "interpolate MP4: $vframes frames of ${vwidth}x$vheight"
