#!/usr/bin/env bash
# scripts/torch/install-peer.sh — the Python side of interop and of the benchmark against the peer: a venv
# with CPU torch, pro-gan-pth 3.4 (akanimax's pro_gan_pytorch) made to run on current torch, safetensors,
# our torchvision stand-in, and progan's own package (scripts/torch: progan_torch, progan-pgp-convert),
# reinstalled on every run so that it matches the checkout. Idempotent otherwise: a complete venv is left
# as it is, a partial one completed.
#
#   venv path   ${PROGAN_PEER_VENV:-.venv-peer} (relative paths are inside the repository; gitignored)
#   prints      the venv's python as its last line, so callers can do python=$(scripts/torch/install-peer.sh | tail -1)
#
# torch is pinned to the CPU wheel that pip finds through its find-links (/opt/wheels on our machines):
# an unpinned `pip install torch` takes PyPI's CUDA build, gigabytes. pro-gan-pth is installed without
# its dependencies, which would pull that build and torchvision; what it imports is listed here instead.
# PyPI's torchvision is a CUDA build that fails to import next to CPU torch, and pro_gan_pytorch uses only
# save_image and four transforms from it, so scripts/torch/standin provides those names (on the venv's
# path through a .pth file).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
venv=${PROGAN_PEER_VENV:-.venv-peer}
[[ $venv == /* ]] || venv=$root/$venv
python=$venv/bin/python

if [[ ! -x $python ]]; then
    echo "install-peer: creating $venv"
    python3 -m venv "$venv"
fi
packages=("torch==2.13.0+cpu" "numpy==2.4.6" "safetensors==0.8.0" "pillow==13.0.0" "tensorboard==2.21.0")
# Pinned versions already present are "already satisfied" without a download, so this is quick on a
# complete venv.
echo "install-peer: pip install ${packages[*]}, pro-gan-pth==3.4 and ./scripts/torch (both --no-deps) into $venv"
# pip's resolver warns that pro-gan-pth asks for torch 1.10 and friends (its pins); that is expected, so
# pip's output is shown only when it fails.
log=$venv/install-peer.log
"$python" -m pip install --quiet "${packages[@]}" >"$log" 2>&1 \
    && "$python" -m pip install --quiet --no-deps "pro-gan-pth==3.4" >>"$log" 2>&1 \
    && "$python" -m pip install --quiet --no-deps "$root/scripts/torch" >>"$log" 2>&1 \
    || { cat "$log" >&2; echo "install-peer: pip failed (log: $log)" >&2; exit 1; }
"$python" "$root/scripts/torch/patch_peer.py"
site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$root/scripts/torch/standin" >"$site/progan-torchvision-standin.pth"
"$python" -c 'import torch, safetensors, pro_gan_pytorch.gan, pro_gan_pytorch.networks, progan_torch.generator' \
    || { echo "install-peer: pro_gan_pytorch or progan_torch does not import in $venv" >&2; exit 1; }
echo "install-peer: ready (torch $("$python" -c 'import torch; print(torch.__version__)'), pro-gan-pth 3.4)"
echo "$python"
