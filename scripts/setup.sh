#!/usr/bin/env bash
# Installs the system packages the build needs, if any are missing, and builds
# everything in release mode. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libpng-dev libturbojpeg0-dev libjpeg-turbo-progs pkg-config
    libjs-emojify strace)

missing=()
for package in "${packages[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "setup: system packages already installed"
else
    as_root=()
    if ((EUID != 0)); then
        as_root=(sudo)
    fi
    echo "setup: installing ${missing[*]}"
    "${as_root[@]}" apt-get update
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
fi

echo "setup: swift build -c release"
swift build -c release
echo "setup: done"
