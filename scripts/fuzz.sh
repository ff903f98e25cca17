#!/usr/bin/env bash
# scripts/fuzz.sh TARGET SECONDS — build a libFuzzer binary for one reader of untrusted files and fuzz it.
#
#   TARGET   png         RGBImage.read(path:)          (ImageIO, PNGShim over libpng, SafeIO)
#            dataset     PreparedDataset(path:) + fillBatch / image(_:resolution:)   (Dataset, ...)
#            checkpoint  Checkpoint.read(path:)        (Training's Checkpoint.swift and the files it needs)
#            safetensors SafetensorsFile.read(path:)   (Safetensors, SafeIO)
#   SECONDS  fuzzing time (libFuzzer -max_total_time)
#
# Package.swift is not involved: the modules each harness (Tests/Fuzz/<target>.swift + common.swift)
# imports are found from the `import` lines of Sources/, and compiled one by one with
# `swiftc -sanitize=fuzzer,address` (C targets with `clang -fsanitize=fuzzer-no-link,address`, system
# libraries through their module maps and pkg-config) into .build-fuzz/<target>/. The corpus lives in
# .build-fuzz/corpus-<target> and grows across runs; crash files go to .build-fuzz/crashes-<target>/.
#
# Prints one summary line; exits 0 when nothing was found, 1 when libFuzzer found a crash, leak,
# timeout or out-of-memory input, and 2 on a usage, toolchain or build error.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

die() { echo "fuzz.sh: $*" >&2; exit 2; }

(($# == 2)) || die "usage: scripts/fuzz.sh png|dataset|checkpoint|safetensors SECONDS"
target=$1
seconds=$2
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds > 0)) || die "SECONDS must be a positive whole number, got '$seconds'"

# Modules each target needs directly. Training is far too heavy (Engine's BLAS, MPI, the trainer) for a
# parser, so the checkpoint fuzzer builds a cut-down Training from only the files Checkpoint.swift needs:
# TrainingConfig (TrainingState.config) and Losses (LossConfig, part of TrainingConfig).
training_files=(Checkpoint.swift TrainingConfig.swift Losses.swift)
case $target in
    png) roots=(ImageIO) ;;
    dataset) roots=(Dataset) ;;
    checkpoint) roots=(Training) ;;
    safetensors) roots=(Safetensors) ;;
    *) die "unknown target '$target' (expected png, dataset, checkpoint or safetensors)" ;;
esac

# --- toolchain ---------------------------------------------------------------------------------------
swiftc=$(command -v swiftc || true)
[[ -n $swiftc ]] || { [[ -x /opt/swift/usr/bin/swiftc ]] && swiftc=/opt/swift/usr/bin/swiftc; }
[[ -n $swiftc ]] || die "swiftc not found on PATH or at /opt/swift/usr/bin"
clang=$(dirname "$swiftc")/clang
[[ -x $clang ]] || clang=$(command -v clang || true)
[[ -n $clang ]] || die "clang not found (expected next to swiftc: $(dirname "$swiftc")/clang)"
command -v pkg-config >/dev/null || die "pkg-config not found (apt-get install pkg-config)"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
resource=$("$clang" -print-resource-dir 2>/dev/null)
compgen -G "$resource/lib/*/libclang_rt.fuzzer*.a" >/dev/null || compgen -G "$resource/lib/*/*/libclang_rt.fuzzer*.a" >/dev/null \
    || die "no libFuzzer runtime (libclang_rt.fuzzer) under $resource: this toolchain cannot -sanitize=fuzzer"

out=$root/.build-fuzz/$target
mods=$out/modules
mkdir -p "$out/obj" "$mods" || die "cannot create $out"
log=$out/build.log
: >"$log"
swift_flags=(-O -gline-tables-only -sanitize=fuzzer,address -parse-as-library -swift-version 5 -I "$mods")
c_flags=(-O1 -gline-tables-only -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer)
objects=()
link_flags=()
declare -A state=()  # module -> building | done

# pkg-config name of a system-library target, read from Package.swift (`.systemLibrary(name:, pkgConfig:)`).
pkg_of() { sed -n "s/.*systemLibrary(name: *\"$1\", *pkgConfig: *\"\([^\"]*\)\".*/\1/p" Package.swift; }
imports_of() { sed -n 's/^[[:space:]]*\(@testable[[:space:]]\+\)\?import[[:space:]]\+\([A-Za-z_][A-Za-z0-9_]*\).*/\2/p' "$@" | sort -u; }
# C targets' dependencies: the quoted names on their `.target(name: "X", dependencies: [...])` line.
c_deps_of() { grep -o "\.target(name: *\"$1\"[^)]*)" Package.swift | sed 's/.*dependencies: *\[\([^]]*\)\].*/\1/;t;d' | tr -d '" ' | tr ',' '\n'; }

use_system() {  # module map directory Sources/X with a pkg-config package
    local name=$1 pkg
    [[ ${state[$name]:-} == done ]] && return 0
    pkg=$(pkg_of "$name")
    if [[ -n $pkg ]]; then
        pkg-config --exists "$pkg" || die "pkg-config package '$pkg' (for $name) not found: install its -dev package"
        # shellcheck disable=SC2207
        local cflags=($(pkg-config --cflags "$pkg")) libs=($(pkg-config --libs "$pkg"))
        for f in "${cflags[@]}"; do swift_flags+=(-Xcc "$f"); c_flags+=("$f"); done
        link_flags+=("${libs[@]}")
    fi
    swift_flags+=(-I "$root/Sources/$name")
    state[$name]=done
}

build_c() {  # Sources/X/include + *.c
    local name=$1 dep
    [[ ${state[$name]:-} == done ]] && return 0
    for dep in $(c_deps_of "$name"); do build_module "$dep"; done
    mkdir -p "$mods/$name"
    local header
    header=$(ls "$root/Sources/$name/include/"*.h 2>/dev/null | head -1)
    [[ -n $header ]] || die "C target $name has no header in Sources/$name/include"
    printf 'module %s {\n    header "%s"\n    export *\n}\n' "$name" "$header" >"$mods/$name/module.modulemap"
    swift_flags+=(-I "$mods/$name")
    local c
    for c in "$root/Sources/$name/"*.c; do
        local o=$out/obj/$name-$(basename "$c" .c).o
        echo "  cc     $name/$(basename "$c")"
        "$clang" "${c_flags[@]}" -I "$root/Sources/$name/include" -c "$c" -o "$o" >>"$log" 2>&1 \
            || { tail -30 "$log" >&2; die "compiling $c failed (full log: $log)"; }
        objects+=("$o")
    done
    state[$name]=done
}

build_swift() {  # build_swift NAME FILE...
    local name=$1; shift
    local dep
    for dep in $(imports_of "$@"); do build_module "$dep"; done
    echo "  swiftc $name (${#@} files)"
    local start=$SECONDS
    "$swiftc" "${swift_flags[@]}" -module-name "$name" -wmo -emit-module -emit-module-path "$mods/$name.swiftmodule" \
        -c -o "$out/obj/$name.o" "$@" >>"$log" 2>&1 \
        || { tail -40 "$log" >&2; die "compiling module $name failed (full log: $log)"; }
    echo "         $name: $((SECONDS - start)) s"
    objects+=("$out/obj/$name.o")
}

build_module() {
    local name=$1
    [[ ${state[$name]:-} == done ]] && return 0
    [[ ${state[$name]:-} == building ]] && die "import cycle through $name"
    local dir=$root/Sources/$name
    [[ -d $dir ]] || return 0  # Foundation, Glibc, ...: not part of the package
    state[$name]=building
    if [[ -f $dir/module.modulemap ]]; then
        state[$name]=; use_system "$name"; return 0
    elif [[ -d $dir/include ]]; then
        state[$name]=; build_c "$name"; return 0
    elif [[ $name == Training && $target == checkpoint ]]; then
        local files=() f
        for f in "${training_files[@]}"; do
            [[ -f $dir/$f ]] || die "Sources/Training/$f is gone: update training_files in scripts/fuzz.sh"
            files+=("$dir/$f")
        done
        build_swift "$name" "${files[@]}"
    else
        local files=("$dir"/*.swift)
        [[ -f ${files[0]} ]] || die "no Swift sources in $dir"
        build_swift "$name" "${files[@]}"
    fi
    state[$name]=done
}

# --- build (always from scratch: a few seconds to a minute, and never stale against Sources/) ---------
build_start=$SECONDS
echo "fuzz.sh: building $target fuzzer in ${out#"$root"/}"
harness=("$root/Tests/Fuzz/common.swift" "$root/Tests/Fuzz/$target.swift")
for f in "${harness[@]}"; do [[ -f $f ]] || die "missing harness $f"; done
for m in "${roots[@]}"; do build_module "$m"; done
"$swiftc" "${swift_flags[@]}" -module-name "fuzz_$target" "${harness[@]}" "${objects[@]}" "${link_flags[@]}" \
    -o "$out/fuzz-$target" >>"$log" 2>&1 || { tail -40 "$log" >&2; die "linking fuzz-$target failed (full log: $log)"; }
echo "fuzz.sh: built $out/fuzz-$target in $((SECONDS - build_start)) s"

# --- seed corpus -------------------------------------------------------------------------------------
corpus=$root/.build-fuzz/corpus-$target
crashes=$root/.build-fuzz/crashes-$target
seeds=$root/.build-fuzz/seeds
mkdir -p "$corpus" "$crashes" "$seeds"
emoji=/usr/share/javascript/emojify.js/images/emoji
progan=$root/.build/release/progan
seed_checkpoint() {  # a tiny-preset run's final checkpoint at 8x8, cached
    [[ -s $seeds/final.ckpt ]] && return 0
    seed_dataset || return 1
    rm -rf "$seeds/run"
    timeout 600 "$progan" train --dataset "$seeds/small.pgds" --out "$seeds/run" --preset tiny --resolution 8 \
        --stabilize-kimg 0.016 --fade-kimg 0.016 --total-kimg 0.04 --tick-kimg 0.008 >"$seeds/train.log" 2>&1 \
        && cp "$seeds/run/checkpoints/final.ckpt" "$seeds/final.ckpt" \
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
        dataset)
            seed_dataset && cp "$seeds/small.pgds" "$corpus/" ;;
        checkpoint)
            if seed_checkpoint; then
                # Small derived checkpoints keep executions fast; the full one only if python3 is missing.
                command -v python3 >/dev/null && python3 "$root/Tests/Fuzz/small_checkpoint.py" "$seeds/final.ckpt" "$corpus" \
                    || cp "$seeds/final.ckpt" "$corpus/"
            fi ;;
        safetensors)
            # An export of the averaged generator (a few KB), and of all three networks.
            if seed_checkpoint; then
                "$progan" export "$seeds/final.ckpt" --out "$corpus/g_ema.safetensors" --samples 0 >/dev/null \
                    && "$progan" export "$seeds/final.ckpt" --out "$corpus/all.safetensors" --net all --samples 0 >/dev/null \
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
# LSan: see Tests/Fuzz/lsan.supp for the one suppressed leak, which is in the toolchain's Foundation.
# The Swift runtime's own backtracer would race ASan on a trap (and trip ASan in its memory server);
# with it off, libFuzzer's deadly-signal handler prints the stack and writes the input.
( cd "$out" && export SWIFT_BACKTRACE=enable=no && export LSAN_OPTIONS=suppressions=$root/Tests/Fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS} && timeout -k 10 $((seconds + 120)) ./"fuzz-$target" "$corpus" \
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
    for f in $new; do echo "  reproduce: $out/fuzz-$target $crashes/$f"; done
    echo "  log: $run_log"
    exit 1
fi
echo "$summary, crashes: none"
