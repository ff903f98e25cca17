#!/usr/bin/env bash
# `progan report` on a tiny run measuring SWD and MS-SSIM every other tick: the page holds every plot and
# grid inline, each loss term in a plot of its own, and `--eta-check` compares the run's ETA with the time
# it took at the first tick of each resolution; headless Chromium renders the page to a screenshot that is
# not blank (kept at .build/check-artifacts/report.png for a look). Bad input: a folder that is not a run, a
# malformed metrics line.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
run=$work/run
train_tiny "$run" --swd-ticks 2 --swd-images 32
grep -q '"swd_16"' "$run/metrics.jsonl" || fail "the run measured no SWD"
"$progan" report "$run" || fail "progan report failed"
html=$run/report.html
svgs=$(grep -o '<svg' "$html" | wc -l)
images=$(grep -o 'src="data:image/png;base64,' "$html" | wc -l)
# Plots: D/G loss, the Wasserstein term, the gradient penalty, drift, SWD, MS-SSIM, phase strip, alpha, speed,
# memory. Images: the last grid at 4, 8 and 16, the final grid large, the training images.
((svgs == 10)) || fail "$svgs SVG plots in the report, expected 10"
((images == 5)) || fail "$images inline images in the report, expected 5"
grep -q '>swd_mean<' "$html" || fail "no SWD curve"
! grep -qE '<script|<link|src="http' "$html" || fail "the report is not self-contained"
echo "report: $(wc -c <"$html") bytes, $svgs plots, $images images"
"$progan" report "$run" --eta-check >"$work/eta.txt" || fail "progan report --eta-check failed: $(cat "$work/eta.txt")"
rows=$(grep -cE '^(4x4|8x8|16x16) +[0-9]+ +[0-9.]+ +[0-9]+m[0-9]{2}s +[0-9]+m[0-9]{2}s +[-+][0-9]+%$' "$work/eta.txt")
((rows == 3)) || fail "the ETA check has $rows rows for 4x4, 8x8 and 16x16: $(cat "$work/eta.txt")"
grep -q '<th>ETA</th>' "$html" || fail "the report has no ETA check table"
echo "ETA check: $(tail -3 "$work/eta.txt" | tr -s ' ' | paste -sd ';')"

expect_error "a folder that is not a run" "$run/samples: not a run directory" "$progan" report "$run/samples"
cp -r "$run" "$work/broken"
sed -i '3s/.*/{"tick": 3, "kimg"/' "$work/broken/metrics.jsonl"
expect_error "a malformed metrics line" "$work/broken/metrics.jsonl:3: not a JSON object" "$progan" report "$work/broken"
cp -r "$run" "$work/escaping"
sed -i '2s#"grid":"[^"]*"#"grid":"..\/..\/etc\/passwd"#' "$work/escaping/metrics.jsonl"
expect_error "a grid outside the run" "$work/escaping/metrics.jsonl:2: grid '../../etc/passwd' is not a path inside" \
    "$progan" timelapse "$work/escaping"

if ! command -v chromium >/dev/null; then
    as_root=()
    ((EUID == 0)) || as_root=(sudo)
    install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)
    echo "installing chromium (about 30 s, once)"
    # Package lists may be missing or stale on a fresh machine; refresh them only when the install fails.
    "${install[@]}" >"$work/apt.log" 2>&1 ||
        { "${as_root[@]}" apt-get update -qq >>"$work/apt.log" 2>&1 && "${install[@]}" >>"$work/apt.log" 2>&1; } ||
        skip "chromium cannot be installed: $(tail -1 "$work/apt.log")"
fi
artifacts=$PWD/.build/check-artifacts
mkdir -p "$artifacts"
screenshot=$artifacts/report.png
rm -f "$screenshot"
timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,4000 \
    --screenshot="$screenshot" "file://$html" >"$work/chromium.log" 2>&1
[[ -s $screenshot ]] || fail "chromium wrote no screenshot: $(tail -3 "$work/chromium.log")"
use_python pillow
"$python" - "$screenshot" <<'PY' || fail "the screenshot $screenshot looks blank"
import sys
from PIL import Image
image = Image.open(sys.argv[1]).convert("RGB")
colours = image.getcolors(maxcolors=1 << 20) or []
inked = sum(count for count, colour in colours if colour != (255, 255, 255)) / (image.width * image.height)
# Plot strokes and the sample grids make hundreds of colours; a failed render is one or two.
assert len(colours) > 200 and inked > 0.05, f"{len(colours)} colours, {inked:.1%} not white"
print(f"screenshot {image.width}x{image.height}: {len(colours)} colours, {inked:.1%} of the page not white")
PY
echo "screenshot: $screenshot"
