#!/usr/bin/env bash
# The command line's conventions, as a user meets them: `progan --version`; the checkpoint as an argument,
# with the old `--checkpoint FILE` and `--count N` still working but warning on stderr; `--no-` forms of
# flags; options hidden from the help once deprecated; errors on stderr with a non-zero exit.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

version=$("$progan" --version) || fail "progan --version exited with $?"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "progan --version printed '$version'"
overview=$("$progan" --help) || fail "progan --help exited with $?"
grep -qF "OVERVIEW: progan $version" <<<"$overview" || fail "the help's overview does not name version $version"
echo "version $version"

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
"$progan" train --dataset "$work/set.pgds" --out "$work/run" --preset tiny --resolution 8 --stabilize-kimg 0.016 \
    --fade-kimg 0.016 --total-kimg 0.048 --tick-kimg 0.016 >/dev/null || fail "training failed"
checkpoint=$work/run/checkpoints/final.ckpt

# images DIR: how many seed*.png files generate wrote into DIR.
images() { find "$1" -name 'seed*.png' | wc -l; }

"$progan" generate "$checkpoint" --images 3 --out "$work/current" --seed 5 >/dev/null 2>"$work/current.err" ||
    fail "generate CHECKPOINT --images failed: $(cat "$work/current.err")"
[[ ! -s $work/current.err ]] || fail "the current spellings printed on stderr: $(cat "$work/current.err")"
(($(images "$work/current") == 3)) || fail "--images 3 wrote $(images "$work/current") images"

"$progan" generate --checkpoint "$checkpoint" --count 3 --out "$work/old" --seed 5 >"$work/old.out" 2>"$work/old.err" ||
    fail "the deprecated --checkpoint/--count spelling failed: $(cat "$work/old.err")"
diff - "$work/old.err" <<'EOF' || fail "the deprecated spellings did not give exactly their two warnings"
warning: --checkpoint is deprecated; pass the checkpoint as an argument
warning: --count is deprecated; use --images
EOF
grep -q warning "$work/old.out" && fail "a warning went to stdout"
for file in "$work"/current/seed*.png; do
    cmp "$file" "$work/old/$(basename "$file")" || fail "the deprecated spelling wrote different images"
done
"$progan" interpolate --checkpoint="$checkpoint" --out "$work/walk" --keyframes 2 --frames-per-keyframe 1 \
    >/dev/null 2>"$work/walk.err" || fail "interpolate --checkpoint=FILE failed: $(cat "$work/walk.err")"
grep -q '^warning: --checkpoint is deprecated' "$work/walk.err" || fail "interpolate --checkpoint=FILE did not warn"
echo "positional and deprecated spellings write the same images; the deprecated ones warn on stderr"

# The last of --grid/--no-grid wins.
"$progan" generate "$checkpoint" --images 4 --grid --no-grid --out "$work/files" >/dev/null || fail "--no-grid failed"
[[ ! -e $work/files/grid.png ]] && (($(images "$work/files") == 4)) || fail "--no-grid still wrote a grid"
"$progan" generate "$checkpoint" --images 4 --no-grid --grid --out "$work/grid" >/dev/null || fail "--grid failed"
[[ -s $work/grid/grid.png ]] && (($(images "$work/grid") == 0)) || fail "--grid did not write one grid"
echo "--grid/--no-grid: the last one wins"

help=$(COLUMNS=80 "$progan" generate --help) || fail "generate --help failed"
grep -q -- '--images <n>' <<<"$help" || fail "generate --help lacks --images"
grep -q -- '--no-grid' <<<"$help" || fail "generate --help lacks --no-grid"
grep -q -- '--count\|--checkpoint' <<<"$help" && fail "generate --help shows a deprecated option"
grep -q '^USAGE: progan generate <checkpoint> --out <dir>' <<<"$help" ||
    fail "generate's usage does not show the checkpoint as a required argument"

# Bad arguments: exit status non-zero, one error line on stderr, nothing on stdout.
"$progan" generate --out "$work/none" >"$work/error.out" 2>/dev/null && fail "generate without a checkpoint succeeded"
[[ ! -s $work/error.out ]] || fail "an error went to stdout: $(cat "$work/error.out")"
expect_error "no checkpoint" "Missing expected argument '<checkpoint>'" "$progan" generate --out "$work/none"
expect_error "no checkpoint through the old spelling" "Missing expected argument '<checkpoint>'" \
    "$progan" generate --out "$work/none" --checkpoint
expect_error "zero images" "--images must be positive" "$progan" generate "$checkpoint" --images 0 --out "$work/none"
expect_error "nothing to measure" "give a checkpoint, --generated or --reals-vs-reals" \
    "$progan" evaluate --dataset "$work/set.pgds" --no-reals-vs-reals
expect_error "unknown subcommand" "Unexpected argument 'bogus'" "$progan" bogus
[[ ! -e $work/none ]] || fail "a rejected command created its output directory"

# OPENBLAS_CORETYPE, OpenBLAS's own way to choose kernels by hand, is kept as given (progan replaces
# OpenBLAS's choice only when that variable is unset: see Sources/BLASShim/blas_core.c).
if [[ $(uname -m) == x86_64 ]] && grep -qw avx2 /proc/cpuinfo; then
    kernels() { "$progan" bench conv --threads 1 --batch 1 --repetitions 1 --layers 8x4 | head -1 | sed 's/.*kernels //'; }
    chosen=$(OPENBLAS_CORETYPE=Haswell kernels)
    [[ $chosen == Haswell ]] || fail "OPENBLAS_CORETYPE=Haswell was not kept: kernels $chosen"
    echo "OPENBLAS_CORETYPE=Haswell kept; by default: $(kernels)"
fi
