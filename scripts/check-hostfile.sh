#!/usr/bin/env bash
# scripts/check-hostfile.sh FILE: checks an OpenMPI hostfile before scripts/train.sh hands it to mpirun.
# Every line is blank, a comment, or `HOST [slots=N] [max_slots=N]`, and every HOST
# is an IP address or a name that resolves (forward: `getent ahosts`; `getent hosts` would look an address
# up in reverse). An unknown name would otherwise surface as a wall of ssh and OpenMPI messages.
# Exits 0, or 1 with one line `error: FILE:LINE: problem`.
set -uo pipefail
(($# == 1)) || { echo "usage: scripts/check-hostfile.sh FILE" >&2; exit 2; }
file=$1 number=0
[[ -f $file && -r $file ]] || { echo "error: $file: not a readable file (HOSTFILE)" >&2; exit 1; }
set -f  # a `*` in the file is a malformed host, not a pattern to expand
while IFS= read -r line || [[ -n $line ]]; do
    number=$((number + 1))
    line=${line%%#*}
    read -r -a fields <<<"$line"
    ((${#fields[@]} > 0)) || continue
    host=${fields[0]}
    for field in "${fields[@]:1}"; do
        [[ $field =~ ^(slots|max_slots|max-slots|slots_max)=[0-9]+$ ]] ||
            { echo "error: $file:$number: '$field' is not slots=N or max_slots=N" >&2; exit 1; }
    done
    if [[ $host =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $host =~ ^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$ ]]; then
        continue
    fi
    [[ $host =~ ^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$ ]] ||
        { echo "error: $file:$number: '$host' is not a host name or IP address" >&2; exit 1; }
    timeout 5 getent ahosts "$host" >/dev/null ||
        { echo "error: $file:$number: host '$host' does not resolve" >&2; exit 1; }
done <"$file"
