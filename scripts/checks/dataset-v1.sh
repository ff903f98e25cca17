#!/usr/bin/env bash
# The dataset format changes no result: runs on a version 1 file (written by scripts/data/make_v1_dataset.py
# from the format's description), on the version 2 file of the same pixels and on the version 1 file
# converted by `progan prepare --upgrade` write cmp-identical checkpoints, since a checkpoint records the
# identity of what a dataset holds, not of its file; so a run started on the old file resumes on the
# converted one. Training on a version 1 file says once how to convert it; upgrading a damaged version 1
# file fails and writes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

mkdir -p "$work/images" "$work/v1" "$work/v2" "$work/upgraded"
cp "$emoji"/{smile,black_circle,shipit,squirrel,clock1,dog}.png "$work/images/"
"$progan" prepare "$work/images" --out "$work/v2/set.pgds" --resolution 16 >"$work/prepare.log" 2>&1 ||
    fail "prepare failed: $(cat "$work/prepare.log")"
python3 scripts/data/make_v1_dataset.py "$work/v2/set.pgds" "$work/v1/set.pgds" || fail "cannot write a v1 file"
output=$("$progan" prepare --upgrade "$work/v1/set.pgds" --out "$work/upgraded/set.pgds" 2>&1) ||
    fail "upgrade failed: $output"
echo "$output"
identity=$(sed -nE 's/.*identity ([0-9a-f]{16})$/\1/p' "$work/prepare.log")
[[ -n $identity && $output == *"identity $identity" ]] || fail "the upgraded file is not dataset $identity"
[[ $("$progan" verify "$work/upgraded/set.pgds") == *"intact"*"identity $identity" ]] ||
    fail "verify does not find the upgraded file intact with identity $identity"

flags=(--preset tiny --resolution 16 --tick-kimg 0.01)
for format in v1 v2 upgraded; do
    OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$work/$format/set.pgds" --out "$work/$format/run" \
        "${flags[@]}" --total-kimg 0.02 >"$work/$format.log" 2>&1 ||
        fail "training on $format failed: $(tail -3 "$work/$format.log")"
done
(($(grep -c "dataset format version 1, read and checked whole at every start; progan prepare --upgrade" \
    "$work/v1.log") == 1)) || fail "training on the v1 file did not say once how to convert it"
! grep -q "format version 1" "$work/v2.log" || fail "training on a v2 file mentioned version 1"
checkpoints=$(cd "$work/v1/run/checkpoints" && ls)
[[ -n $checkpoints ]] || fail "no checkpoints"
for checkpoint in $checkpoints; do
    for format in v2 upgraded; do
        cmp "$work/v1/run/checkpoints/$checkpoint" "$work/$format/run/checkpoints/$checkpoint" ||
            fail "$checkpoint from the $format file differs from the one from the v1 file"
    done
done
echo "checkpoints from v1, v2 and upgraded files are the same bytes: $(echo $checkpoints)"
OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$work/upgraded/set.pgds" --out "$work/v1/run" "${flags[@]}" \
    --total-kimg 0.04 >"$work/resume.log" 2>&1 ||
    fail "the v1 run did not resume on the upgraded file: $(tail -3 "$work/resume.log")"
grep -q "resuming from" "$work/resume.log" || fail "the run on the upgraded file did not resume"

patched_copy "$work/v1/set.pgds" "$work/damaged.pgds" 100 '\x5a'
expect_error "upgrade of a damaged v1 file" "damaged.pgds: checksum mismatch" \
    "$progan" prepare --upgrade "$work/damaged.pgds" --out "$work/none.pgds"
[[ -z $(ls "$work" | grep none) ]] || fail "a failed upgrade left a file behind"
echo "dataset-v1 checks passed"
