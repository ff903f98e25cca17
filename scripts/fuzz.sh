#!/usr/bin/env bash
# scripts/fuzz.sh TARGET SECONDS — build a libFuzzer binary for one reader of untrusted files and fuzz it.
#
#   TARGET   png         RGBImage.read(path:)          (ImageIO, PNGShim over libpng, SafeIO)
#            jpeg        RGBImage.read(path:) on JPEGs (ImageIO, JPEGShim over libjpeg-turbo)
#            dataset     PreparedDataset(path:) + fillBatch / image(_:resolution:)   (Dataset, ...)
#            checkpoint  Checkpoint.read(path:)        (CheckpointFile; Training for the state and tensor table)
#            safetensors SafetensorsFile.read(path:)   (Safetensors, SafeIO)
#   SECONDS  fuzzing time (libFuzzer -max_total_time)
#
# The harnesses are the executables of the fuzzing package Tests/Fuzz (Package.swift there), which uses the
# main package's reader libraries by path; SwiftPM builds them, incrementally, into .build-fuzz/spm with
#   swift build -c debug --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
# The -Xswiftc repeat matters: SwiftPM hands swiftc the two sanitizers as separate flags, of which
# swiftc 6.3.1 keeps only the last, so without it the Swift code would get no coverage counters and
# libFuzzer would fuzz blind. The corpus lives in .build-fuzz/corpus-<target> and grows across runs;
# crash files go to .build-fuzz/crashes-<target>/.
#
# Prints one summary line; exits 0 when nothing was found, 1 when libFuzzer found a crash, leak,
# timeout or out-of-memory input, and 2 on a usage, toolchain or build error.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

die() { echo "fuzz.sh: $*" >&2; exit 2; }

(($# == 2)) || die "usage: scripts/fuzz.sh png|jpeg|dataset|checkpoint|safetensors SECONDS"
target=$1
seconds=$2
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds > 0)) || die "SECONDS must be a positive whole number, got '$seconds'"
case $target in
    png | jpeg | dataset | checkpoint | safetensors) ;;
    *) die "unknown target '$target' (expected png, jpeg, dataset, checkpoint or safetensors)" ;;
esac
command -v swift >/dev/null || die "swift not found on PATH"
command -v timeout >/dev/null || die "timeout (coreutils) not found"

# --- build (incremental: SwiftPM rebuilds what changed in Sources/ or Tests/Fuzz) --------------------
out=$root/.build-fuzz/$target
mkdir -p "$out" || die "cannot create $out"
log=$out/build.log
build_start=$SECONDS
echo "fuzz.sh: building fuzz-$target through Tests/Fuzz/Package.swift"
# Without --disable-build-manifest-caching, SwiftPM would keep the build plan of a path dependency when a
# source file is added to or removed from it, and fail on the missing file.
swift build -c debug --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
    -Xswiftc -gline-tables-only --disable-build-manifest-caching --package-path "$root/Tests/Fuzz" --scratch-path "$root/.build-fuzz/spm" --product "fuzz-$target" >"$log" 2>&1 \
    || { grep -v 'ld.gold: warning' "$log" | tail -30 >&2; die "building fuzz-$target failed (full log: $log)"; }
fuzzer=$root/.build-fuzz/spm/debug/fuzz-$target
[[ -x $fuzzer ]] || die "the build left no $fuzzer"
echo "fuzz.sh: built $fuzzer in $((SECONDS - build_start)) s"

# --- seed corpus -------------------------------------------------------------------------------------
corpus=$root/.build-fuzz/corpus-$target
crashes=$root/.build-fuzz/crashes-$target
seeds=$root/.build-fuzz/seeds
mkdir -p "$corpus" "$crashes" "$seeds"
emoji=/usr/share/javascript/emojify.js/images/emoji
progan=$root/.build/release/progan
seed_checkpoint() {  # one step of a 4x4 network of a few parameters (a 4 KB file), cached
    [[ -s $seeds/small.ckpt ]] && return 0
    seed_dataset || return 1
    rm -rf "$seeds/run"
    echo '{"network": {"fmap_base": 2, "fmap_max": 2, "latent_size": 2, "mbstd_group_size": 1}, "grid_samples": 1}' \
        >"$seeds/small-network.json"
    timeout 600 "$progan" train --dataset "$seeds/small.pgds" --out "$seeds/run" --preset tiny --resolution 4 \
        --config "$seeds/small-network.json" --total-kimg 0.008 --tick-kimg 0.008 >"$seeds/train.log" 2>&1 \
        && cp "$seeds/run/checkpoints/final.ckpt" "$seeds/small.ckpt" \
        || { echo "fuzz.sh: note: progan train failed (see $seeds/train.log), no valid seed" >&2; return 1; }
}
seed_dataset() {  # a small dataset (a few images at 8x8) made by the release binary, cached
    [[ -s $seeds/small.pgds ]] && return 0
    [[ -x $progan ]] || { echo "fuzz.sh: note: $progan missing (swift build -c release), no valid seed" >&2; return 1; }
    [[ -d $emoji ]] || { echo "fuzz.sh: note: $emoji missing, no valid seed" >&2; return 1; }
    rm -rf "$seeds/images" && mkdir -p "$seeds/images"
    cp "$emoji"/{smile,black_circle,clock1,shipit}.png "$seeds/images/" 2>/dev/null
    timeout 120 "$progan" prepare "$seeds/images" --out "$seeds/small.pgds" --resolution 8 >"$seeds/prepare.log" 2>&1 \
        || { echo "fuzz.sh: note: progan prepare failed (see $seeds/prepare.log), no valid seed" >&2; return 1; }
}
if [[ -z $(ls -A "$corpus") ]]; then
    case $target in
        png)
            if [[ -d $emoji ]]; then
                # Colour types and sizes: RGBA, palette, gray+alpha, 75x75 ones; and the smallest files.
                cp "$emoji"/{smile,black_circle,clock1,shipit,squirrel}.png "$corpus/" 2>/dev/null
                ls -S "$emoji"/*.png | tail -n 10 | xargs -r cp -t "$corpus/"
            else
                echo "fuzz.sh: note: $emoji missing, starting from an empty corpus" >&2
            fi ;;
        jpeg)
            # A 75x75 pattern (partial MCUs at the edges) through cjpeg's variants: baseline, progressive,
            # gray, arithmetic with restarts, RGB at full chroma; each takes a different decoder path.
            if command -v cjpeg >/dev/null && command -v python3 >/dev/null; then
                python3 -c 'import sys; sys.stdout.buffer.write(b"P6 75 75 255\n" + bytes((i * 37 ^ i >> 5) % 256 for i in range(75 * 75 * 3)))' \
                    >"$seeds/pattern.ppm"
                n=0
                for options in "" "-progressive" "-grayscale" "-arithmetic -restart 1" "-rgb -sample 1x1"; do
                    n=$((n + 1))
                    # shellcheck disable=SC2086  # the options are words
                    cjpeg $options -outfile "$corpus/seed$n.jpg" "$seeds/pattern.ppm"
                done
            else
                echo "fuzz.sh: note: cjpeg or python3 missing, starting from an empty corpus" >&2
            fi ;;
        dataset)
            seed_dataset && cp "$seeds/small.pgds" "$corpus/" ;;
        checkpoint)
            seed_checkpoint && cp "$seeds/small.ckpt" "$corpus/" ;;
        safetensors)
            # An export of the averaged generator, and of all three networks.
            if seed_checkpoint; then
                "$progan" export "$seeds/small.ckpt" --out "$corpus/g_ema.safetensors" --samples 0 >/dev/null \
                    && "$progan" export "$seeds/small.ckpt" --out "$corpus/all.safetensors" --net all --samples 0 \
                        >/dev/null \
                    || echo "fuzz.sh: note: progan export failed, no valid seed" >&2
            fi ;;
    esac
fi
echo "fuzz.sh: corpus ${corpus#"$root"/}: $(ls "$corpus" | wc -l) files"

# --- fuzz --------------------------------------------------------------------------------------------
run_log=$out/fuzz.log
extra=()
[[ -f $root/Tests/Fuzz/$target.dict ]] && extra+=(-dict="$root/Tests/Fuzz/$target.dict")
before=$(ls "$crashes" | wc -l)
# -timeout: one input running this long is a finding; the outer timeout only guards against a wedged
# process (libFuzzer stops itself at -max_total_time, plus the time to finish one input).
# LSan needs no suppressions: the one leak it used to report (Foundation's contents(atPath:) on an empty
# file) is gone since the readers read files through SafeIO's readFileBytes.
# The Swift runtime's own backtracer would race ASan on a trap (and trip ASan in its memory server);
# with it off, libFuzzer's deadly-signal handler prints the stack and writes the input.
( cd "$out" && export SWIFT_BACKTRACE=enable=no && timeout -k 10 $((seconds + 120)) "$fuzzer" "$corpus" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=25 \
    -artifact_prefix="$crashes/" -print_final_stats=1 "${extra[@]}" ) >"$run_log" 2>&1
status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run_log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run_log" | tail -1)
cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$run_log" | tail -1)
units=$(grep -o 'corp: [0-9]*' "$run_log" | tail -1 | tr -dc 0-9)
new=$(ls -t "$crashes" | head -n $(( $(ls "$crashes" | wc -l) - before )) 2>/dev/null)
summary="fuzz $target: ${runs:-?} executions in ${seconds} s (${rate:-?} exec/s), ${cov:-cov ?}, corpus ${units:-?}"
if ((status == 124 || status == 137)); then
    echo "$summary, ERROR: libFuzzer did not stop (killed after $((seconds + 120)) s); log: $run_log"
    exit 2
elif ((status != 0)); then
    kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z -]+|Fatal error: .*|SUMMARY: .*' "$run_log" | head -1)
    echo "$summary, FOUND: ${kind:-exit status $status}; inputs: ${new:-none written}"
    for f in $new; do echo "  reproduce: $fuzzer $crashes/$f"; done
    echo "  log: $run_log"
    exit 1
fi
echo "$summary, crashes: none"
