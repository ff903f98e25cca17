#!/usr/bin/env bash
# `mpirun -np N progan prepare` splits the files over the ranks and writes the same bytes as one process,
# for a labelled folder of PNGs and JPEGs with images whose header reads but whose pixels do not (they
# are skipped, the images after them move up, and the file is the one of a folder without them); only
# rank 0 prints the progress and the summary.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

mkdir -p "$work/images/a" "$work/images/b"
cp "$emoji"/{smile,black_circle,shipit,dog,cat}.png "$work/images/a/"
# JPEGs of noise, of several shapes (the wide ones are cropped), baseline, progressive and gray.
jpeg_options=("" -progressive -grayscale)
for index in 0 1 2; do
    width=$((40 + 8 * index)) height=$((48 - 4 * index))
    { printf 'P6\n%d %d\n255\n' "$width" "$height" && head -c $((width * height * 3)) /dev/urandom; } |
        cjpeg -quality 90 ${jpeg_options[index]} >"$work/images/b/$index.jpg" || fail "cjpeg failed"
done
head -c 600 "$emoji/dog.png" >"$work/images/a/cut.png"
jpeg=$(stat -c %s "$work/images/b/0.jpg")
head -c $((jpeg / 2)) "$work/images/b/0.jpg" >"$work/images/b/cut.jpg"

flags=(--resolution 32)
"$progan" prepare "$work/images" --out "$work/one.pgds" "${flags[@]}" >"$work/one.log" 2>&1 ||
    fail "prepare on one process failed: $(cat "$work/one.log")"
grep -q "prepared 8 of 10 images" "$work/one.log" || fail "unexpected summary: $(cat "$work/one.log")"
for ranks in 2 3; do
    mpirun --allow-run-as-root --oversubscribe -np "$ranks" "$progan" prepare "$work/images" \
        --out "$work/$ranks.pgds" "${flags[@]}" >"$work/$ranks.out" 2>"$work/$ranks.err" ||
        fail "prepare on $ranks ranks failed: $(cat "$work/$ranks.out" "$work/$ranks.err")"
    cmp "$work/one.pgds" "$work/$ranks.pgds" || fail "$ranks ranks wrote other bytes than one process"
    (($(grep -c "^prepared 8 of 10 images.* on $ranks ranks" "$work/$ranks.out") == 1)) ||
        fail "not one summary line from rank 0: $(cat "$work/$ranks.out")"
    (($(grep -c "^converting 8/10\|^converting 10/10" "$work/$ranks.err") == 1)) ||
        fail "the last progress line is not printed once: $(cat "$work/$ranks.err")"
    for bad in cut.png cut.jpg; do
        (($(grep -c "skipped .*$bad" "$work/$ranks.err") == 1)) || fail "$bad not reported once on $ranks ranks"
    done
    echo "$ranks ranks: same bytes as one process; $(grep -c "images/s" "$work/$ranks.err") progress lines"
done
# The images skipped while converting leave no trace: the file is the one of a folder without them.
rm "$work/images/a/cut.png" "$work/images/b/cut.jpg"
"$progan" prepare "$work/images" --out "$work/clean.pgds" "${flags[@]}" >/dev/null 2>&1 || fail "prepare failed"
cmp "$work/one.pgds" "$work/clean.pgds" || fail "skipping undecodable images left other bytes than removing them"
echo "prepare-ranks checks passed"
