#!/usr/bin/env bash
# Class-conditional training (issue 20) from the CLI, on the emoji folder split into three colour classes
# (blue, red, yellow; scripts/checks/colour_classes.py): an unlabelled dataset is one error line; a projection-D
# run grows to 16x16 with sample grids of one row per class, the report names the rows, and `generate --class`
# gives each class's colours (its images' mean colour is nearest that class's reals'; an unconditional G makes
# the same images for every --class, so it cannot pass); export -> import keeps the classes; an AC-GAN run
# (the official kind) gives the same checkpoint bytes on 1 and 2 ranks.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun --allow-run-as-root --hostfile hostfiles/localhost -np 2 -x OPENBLAS_NUM_THREADS=1)
# png_size FILE: "WIDTH HEIGHT" from the PNG header.
png_size() {
    python3 -c 'import struct, sys; print(*struct.unpack(">II", open(sys.argv[1], "rb").read()[16:24]))' "$1"
}

python3 scripts/checks/colour_classes.py split "$emoji" "$work/classes" 32 || fail "cannot split the emoji set"
"$progan" prepare "$work/classes" --out "$work/set.pgds" --resolution 16 >"$work/prepare.log" 2>&1 ||
    fail "prepare failed: $(tail -1 "$work/prepare.log")"

mkdir "$work/flat" && cp "$work"/classes/red/*.png "$work/flat/"
expect_error "unlabelled dataset" "conditional training needs a labelled dataset" \
    "$progan" train --dataset "$work/flat" --out "$work/unlabelled" --preset tiny --conditional

# Projection D, 4 kimg: long enough for the tiny networks to learn the colours.
OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$work/set.pgds" --out "$work/projection" --preset tiny \
    --conditional-kind projection --total-kimg 4 --grid-samples 12 >"$work/projection.log" 2>&1 ||
    fail "projection training failed: $(tail -3 "$work/projection.log")"
run=$work/projection
grep -q '"resolution":16' "$run/metrics.jsonl" || fail "the projection run never reached 16x16"
last=$(ls "$run"/samples/tick-*.png | tail -1)
[[ $(png_size "$last") == "64 48" ]] ||
    fail "final grid is $(png_size "$last"), expected 4 columns x 3 class rows of 16x16"
[[ $(png_size "$run/samples/reals.png") == "64 48" ]] || fail "reals.png is $(png_size "$run/samples/reals.png")"
echo "projection run: $(tail -1 "$run/metrics.jsonl" | grep -o '"kimg":[0-9.]*'), grids of 3 class rows x 4 columns"
"$progan" report "$run" >/dev/null || fail "report failed"
grep -q "one row per class: blue, red, yellow" "$run/report.html" ||
    fail "the report does not name the grid's class rows"

for class in blue red 2; do
    "$progan" generate "$run/checkpoints/final.ckpt" --class "$class" --images 48 --seed 3 --out "$work/made/$class" \
        >/dev/null || fail "generate --class $class failed"
done
mv "$work/made/2" "$work/made/yellow"
python3 scripts/checks/colour_classes.py compare "$work/classes" "$work/made" || fail "generate --class: wrong colours"
expect_error "unknown class" "--class green is not one of its classes (blue, red, yellow)" \
    "$progan" generate "$run/checkpoints/final.ckpt" --class green --out "$work/green"

# Export -> import keeps the class names and the embedding: the imported checkpoint makes the same images.
"$progan" export "$run/checkpoints/final.ckpt" --out "$work/all.safetensors" --net all --images 0 >/dev/null ||
    fail "export failed"
classes=$(python3 -c 'import json, struct, sys
data = open(sys.argv[1], "rb").read()
header = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])
print(header["__metadata__"]["progan.class_names"])' "$work/all.safetensors")
[[ $classes == '["blue","red","yellow"]' ]] || fail "the export's progan.class_names is '$classes'"
"$progan" import "$work/all.safetensors" --out "$work/imported" --preset tiny >/dev/null || fail "import failed"
"$progan" generate "$work/imported/checkpoints/step-"*.ckpt --class red --images 2 --seed 3 --out "$work/again" \
    >/dev/null || fail "generate --class on the imported checkpoint failed"
cmp "$work/again/seed3-0001.png" "$work/made/red/seed3-0001.png" || fail "the imported generator makes other images"
echo "export -> import: class names and embedding kept (same --class red images)"

# AC-GAN D (the official kind) to 16x16 on 1 and 2 ranks: the same bytes.
acgan=(train --dataset "$work/set.pgds" --preset tiny --conditional --total-kimg 0.9)
OPENBLAS_NUM_THREADS=1 "$progan" "${acgan[@]}" --out "$work/acgan1" >"$work/acgan1.log" 2>&1 ||
    fail "AC-GAN training on 1 rank failed: $(tail -3 "$work/acgan1.log")"
"${mpirun[@]}" "$progan" "${acgan[@]}" --out "$work/acgan2" >"$work/acgan2.log" 2>&1 ||
    fail "AC-GAN training on 2 ranks failed: $(tail -3 "$work/acgan2.log")"
grep -q '"d_class"' "$work/acgan1/metrics.jsonl" || fail "the AC-GAN run logs no d_class"
grep -q '"resolution":16' "$work/acgan1/metrics.jsonl" || fail "the AC-GAN run never reached 16x16"
cmp "$work/acgan1/checkpoints/final.ckpt" "$work/acgan2/checkpoints/final.ckpt" || fail "AC-GAN: 1 and 2 ranks differ"
echo "AC-GAN run to 16x16: 1 and 2 ranks give byte-identical checkpoints"
