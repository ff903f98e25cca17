#!/usr/bin/env bash
# Dataset format 2 from the outside: a FIFO named like an image does not hang `prepare`, and a second
# prepare on one core writes the same bytes; `verify` passes an intact file and names the level and images
# of a flipped bit (exit 1), and training on that file stops at its first read of the damaged chunk; a file
# of an unknown format version asks for preparation again (version 1 files are still read: dataset-v1.sh);
# a resume on another dataset is refused by name; `mpirun -np 2 progan verify` splits the chunks.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

mkdir -p "$work/images/a" "$work/images/b"
cp "$emoji"/{smile,black_circle,shipit}.png "$work/images/a/"
cp "$emoji"/{squirrel,clock1}.png "$work/images/b/"
mkfifo "$work/images/b/fifo.png"
output=$(timeout 60 "$progan" prepare "$work/images" --out "$work/set.pgds" --resolution 16 2>&1)
(($? == 0)) || fail "prepare failed or hung on a FIFO: $output"
grep -q "fifo.png: not a regular file (a FIFO)" <<<"$output" || fail "the FIFO was not reported: $output"
grep -q "classes: a: 3, b: 2" <<<"$output" || fail "class counts missing: $output"

"$progan" verify "$work/set.pgds" | grep -q "intact" || fail "verify rejected an intact dataset"
# Another process (another hash seed) and another core count write the same bytes.
taskset -c 0 "$progan" prepare "$work/images" --out "$work/again.pgds" --resolution 16 >/dev/null 2>&1
cmp "$work/set.pgds" "$work/again.pgds" || fail "a second prepare of the same folder wrote other bytes"

# The last byte is in the 16x16 level's only chunk, which holds images 0..<5.
cp "$work/set.pgds" "$work/flipped.pgds"
size=$(stat -c %s "$work/flipped.pgds")
printf '\x55' | dd of="$work/flipped.pgds" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
expect_error "verify of a flipped bit" "level 16x16, images 0..<5" "$progan" verify "$work/flipped.pgds"
expect_error "training on a flipped bit" "flipped.pgds: checksum mismatch in level 16x16, images 0..<5" \
    "$progan" train --dataset "$work/flipped.pgds" --out "$work/r1" --preset tiny --resolution 16 --total-kimg 0.05
[[ -z $(ls "$work/r1/checkpoints" 2>/dev/null) ]] || fail "a checkpoint was written from a damaged dataset"

patched_copy "$work/set.pgds" "$work/v7.pgds" 8 '\x07'
expect_error "format version 7" "built by format version 7; this build reads versions 1 and 2" \
    "$progan" train --dataset "$work/v7.pgds" --out "$work/r2"

flags=(--preset tiny --resolution 16 --total-kimg 0.02 --tick-kimg 0.01)
"$progan" train --dataset "$work/set.pgds" --out "$work/run" "${flags[@]}" >/dev/null 2>&1 || fail "training failed"
"$progan" prepare "$work/images" --out "$work/other.pgds" --resolution 16 --max-images 4 >/dev/null 2>&1
expect_error "resume on another dataset" "trained on dataset set.pgds" \
    "$progan" train --dataset "$work/other.pgds" --out "$work/run" "${flags[@]}" --total-kimg 0.04

output=$(mpirun --allow-run-as-root --oversubscribe -np 2 "$progan" verify "$work/set.pgds" 2>&1) ||
    fail "verify on 2 ranks failed: $output"
grep -q "intact.* on 2 ranks" <<<"$output" || fail "unexpected verify output on 2 ranks: $output"
echo "dataset checks passed"
