#!/usr/bin/env bash
# Where a training step's time goes, from perf's CPU-clock samples: 1 rank x 1 thread against 2 ranks x 1
# thread on the same work (`progan bench train`: WGAN-GP, global batch 16, alpha 1, fast reduction), each as
# shares by library and by function. In the 2-rank profile the MPI libraries (libmpi, libopen-pal, the
# vader transport, libnbc's non-blocking collectives) are mostly a rank polling while it waits for the other.
#
# Usage: scripts/profile.sh [--peer-widths]
#   --peer-widths   pro_gan_pytorch's own channel widths (base 16384, max 512) instead of the cpu preset's
# Environment: RESOLUTION (default 32), STEPS (timed steps, default 16 for the cpu widths, 2 for the peer's),
#   TOP (functions listed per profile, default 15).
# Needs perf (Debian package linux-perf), installed here when missing as scripts/setup.sh does for the rest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
peer_widths=false
[[ ${1:-} == --peer-widths ]] && peer_widths=true
scripts/setup.sh >/dev/null
if ! perf --version >/dev/null 2>&1; then
    echo "profile: installing linux-perf"
    as_root=()
    ((EUID == 0)) || as_root=(sudo)
    "${as_root[@]}" apt-get update >/dev/null
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends linux-perf >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source scripts/bench.bash
resolution=${RESOLUTION:-32}
common=(bench train --arch pgp --resolution "$resolution" --no-deterministic --warmup 1 --threads 1)
if $peer_widths; then
    common+=(--steps "${STEPS:-2}")
else
    write_widths "$work/cpu-widths.json" "${cpu_preset_widths[@]}"
    common+=(--steps "${STEPS:-16}" --config "$work/cpu-widths.json")
fi

# shares NAME KEYS: the profile's sample shares grouped by perf's sort KEYS, largest first.
shares() {
    perf report -i "$work/$1.data" --stdio --sort "$2" --fields "overhead,$2" 2>/dev/null | grep '%' | sort -rn
}

# profile NAME COMMAND...: runs COMMAND (and its children) under perf, prints its figures and the top shares.
profile() {
    local name=$1
    shift
    echo "## $name: $*"
    echo
    perf record --quiet -F 499 -o "$work/$name.data" -- env OPENBLAS_NUM_THREADS=1 "$@" | sed 's/^/    /'
    echo
    echo "By library (share of all samples, both ranks together when there are two):"
    shares "$name" dso | sed -n '/ 0\.[0-4][0-9]%/!p'
    echo
    echo "Top ${TOP:-15} functions:"
    shares "$name" dso,sym | sed -n "1,${TOP:-15}p" | swift demangle --simplified --compact | cut -c1-150
    echo
}

echo "# Profile, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, ${resolution}x$resolution, $($peer_widths && echo "pro_gan_pytorch's widths" || echo "cpu preset widths")"
echo
profile one-rank "$progan" "${common[@]}"
profile two-ranks "${mpirun[@]}" "$progan" "${common[@]}"
