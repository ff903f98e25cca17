#!/usr/bin/env bash
# `progan prepare` on a messy folder uses the good images and names each bad one; an empty folder and a
# bad resolution are one-line errors with a non-zero exit and no output file. (The other rows of the
# README's bad-input table are in bad-input.sh.)
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

mkdir "$work/images" "$work/empty"
# RGBA (smile), palette (black_circle), gray+alpha (clock1), and both 75x75 emoji.
cp "$emoji"/{smile,black_circle,shipit,squirrel,clock1}.png "$work/images/"
printf 'not a png at all' >"$work/images/notes.png"
head -c 300 "$emoji/smile.png" >"$work/images/truncated.png"
: >"$work/images/empty.png"

output=$("$progan" prepare "$work/images" --out "$work/set.pgds" --resolution 32 2>&1) || fail "prepare failed: $output"
echo "$output"
grep -q "prepared 5 of 8 images" <<<"$output" || fail "expected 5 of 8 images used"
for bad in notes.png truncated.png empty.png; do
    grep -q "skipped .*$bad" <<<"$output" || fail "$bad was not reported"
done

expect_error "empty folder" "$work/empty" "$progan" prepare "$work/empty" --out "$work/none.pgds"
expect_error "resolution 48" "48" "$progan" prepare "$work/images" --out "$work/none.pgds" --resolution 48
expect_error "missing folder" "$work/missing" "$progan" prepare "$work/missing" --out "$work/none.pgds"
[[ ! -e $work/none.pgds ]] || fail "a failed prepare left an output file"
