#!/usr/bin/env bash
# Two "hosts" on one machine: a 2-rank `tiny` training job with one rank on each of two network namespaces,
# talking over TCP through a veth pair, must end with the same final checkpoint, bit for bit, as the same
# job on one machine over shared memory. (With 2 ranks every allreduce adds two floats, which is exact and
# order-independent, so the transport cannot change a single bit.)
#
# What it sets up, all of it removed again on exit, failure, Ctrl-C or SIGTERM:
#   - network namespaces progan-a-PID and progan-b-PID, joined by a veth pair veth-a (10.77.0.1/24) and
#     veth-b (10.77.0.2/24) that is created inside them: the root namespace never sees the pair or the
#     addresses, and no traffic leaves the two namespaces;
#   - a temporary directory (readable from both namespaces: they share the file system) holding the
#     dataset, both runs and an rsh agent that OpenMPI calls in place of ssh and that runs the command it
#     is given inside the namespace of the "host" it names (see hostfiles/multihost-test).
# mpirun runs inside progan-a; rank 0 runs there too, and mpirun starts its daemon for rank 1 in progan-b
# through the agent. Needs root (CAP_SYS_ADMIN): where network namespaces cannot be made, it prints
# "SKIPPED: <reason>" and exits 0; any other failure exits non-zero.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
progan=$repo/.build/release/progan
hostfile=$repo/hostfiles/multihost-test
emoji=/usr/share/javascript/emojify.js/images/emoji
ns_a=progan-a-$$
ns_b=progan-b-$$
limit=120  # seconds for one training job; each takes about 1-3 s here

namespaces=()  # the namespaces this script created, and so deletes
work=
child=         # the pid of a running `timeout`, to stop it on Ctrl-C

say() { echo "multihost: $*"; }
fail() {
    echo "multihost: FAILED: $*" >&2
    exit 1
}
skip() {
    echo "######################################################################"
    echo "SKIPPED: $*"
    echo "######################################################################"
    exit 0
}

cleanup() {
    local status=$? ns pids
    trap - EXIT
    trap '' INT TERM  # a second Ctrl-C must not cut the cleanup short; it is bounded (timeout's --kill-after)
    if [[ -n $child ]]; then
        kill -TERM "$child" 2>/dev/null  # timeout passes it on to mpirun and everything mpirun started
        wait "$child" 2>/dev/null
    fi
    # Whatever still runs inside our namespaces was started by this script: rank 1's daemon if mpirun
    # died before it could stop it, or mpirun itself after a timeout. Stop it, then delete the namespaces
    # (which deletes the veth pair with them).
    for ns in "${namespaces[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        if [[ -n $pids ]]; then
            say "stopping processes left in $ns: $(echo $pids)"
            kill -TERM $pids 2>/dev/null
            sleep 1
            pids=$(ip netns pids "$ns" 2>/dev/null)
            [[ -z $pids ]] || kill -KILL $pids 2>/dev/null
        fi
        ip netns delete "$ns" || status=1
    done
    ((${#namespaces[@]} == 0)) || say "deleted namespaces ${namespaces[*]} and their veth pair"
    [[ -z $work ]] || rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'echo "multihost: interrupted" >&2; exit 130' INT
trap 'echo "multihost: terminated" >&2; exit 143' TERM

# run_limited SECONDS LOG COMMAND...: runs the command under `timeout`, its output into LOG, in the
# background and waits for it, so that Ctrl-C or SIGTERM reach the traps at once (bash runs a trap only
# after a foreground command ends, and `timeout` puts its command in a process group of its own, out of
# reach of the terminal's ^C). The output is redirected here rather than around the call, which would
# send whatever a trap prints during the wait into LOG too.
run_limited() {
    local seconds=$1 log=$2 status
    shift 2
    timeout --kill-after=10 "$seconds" "$@" >"$log" 2>&1 &
    child=$!
    wait "$child"
    status=$?
    child=
    if ((status == 124 || status == 137)); then
        echo "multihost: timed out after $seconds s: $*" >&2
    fi
    return "$status"
}

# --- requirements ---------------------------------------------------------------------------------------
if ! command -v ip >/dev/null 2>&1; then
    ((EUID == 0)) || skip "no 'ip' command (iproute2), and not root: cannot install it or make network namespaces"
    say "'ip' is missing: installing iproute2 with apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2; } >/dev/null ||
        fail "could not install iproute2"
    hash -r
    command -v ip >/dev/null 2>&1 || fail "iproute2 is installed but 'ip' is still not on PATH ($PATH)"
fi
[[ -x $progan ]] || fail "$progan is missing: build it first (scripts/setup.sh)"
command -v mpirun >/dev/null || fail "mpirun is missing (openmpi-bin)"

# --- the two hosts ----------------------------------------------------------------------------------------
if ! output=$(ip netns add "$ns_a" 2>&1); then
    if grep -qiE 'not permitted|permission denied|read-only file system' <<<"$output"; then
        skip "network namespaces are not permitted here (needs root / CAP_SYS_ADMIN): ip netns add: $output"
    fi
    fail "ip netns add $ns_a: $output"
fi
namespaces+=("$ns_a")
ip netns add "$ns_b" || fail "ip netns add $ns_b"
namespaces+=("$ns_b")
say "created network namespaces $ns_a and $ns_b"

ip -n "$ns_a" link add veth-a type veth peer name veth-b netns "$ns_b" || fail "could not create the veth pair"
ip -n "$ns_a" addr add 10.77.0.1/24 dev veth-a || fail "could not give veth-a its address"
ip -n "$ns_b" addr add 10.77.0.2/24 dev veth-b || fail "could not give veth-b its address"
for ns in "$ns_a" "$ns_b"; do
    ip -n "$ns" link set lo up || fail "could not bring up lo in $ns"
done
ip -n "$ns_a" link set veth-a up || fail "could not bring up veth-a"
ip -n "$ns_b" link set veth-b up || fail "could not bring up veth-b"
say "joined them by a veth pair: $ns_a veth-a 10.77.0.1/24 <-> $ns_b veth-b 10.77.0.2/24"

work=$(mktemp -d -t progan-multihost.XXXXXX) || fail "mktemp failed"
chmod 755 "$work"

# The rsh agent. OpenMPI calls it as it would call ssh: AGENT [ssh options] HOST COMMAND... and, like
# ssh, the words of COMMAND are joined by spaces and given to a shell on the host.
agent=$work/netns-rsh
{
    echo '#!/usr/bin/env bash'
    echo "# Written by scripts/multihost-test.sh: plays ssh to the hosts of hostfiles/multihost-test."
    echo "log=$(printf '%q' "$work/agent.log")"
    cat <<'EOF'
called_as="$*"
while (($#)) && [[ $1 == -* ]]; do
    case $1 in
        -[BbcDEeFIiJLlmOopQRSWw]) shift 2 ;;  # ssh options that take a value
        *) shift ;;                           # -x, -T, -q and other flags
    esac
done
if (($# < 2)); then
    echo "netns-rsh: usage: netns-rsh [options] HOST COMMAND..." >&2
    exit 255
fi
host=$1
shift
case $host in
EOF
    echo "    10.77.0.1) ns=$ns_a ;;"
    echo "    10.77.0.2) ns=$ns_b ;;"
    cat <<'EOF'
    *) echo "netns-rsh: unknown host '$host'" >&2; exit 255 ;;
esac
echo "called as: netns-rsh $called_as" >>"$log"
echo "runs in $ns: $*" >>"$log"
exec ip netns exec "$ns" sh -c "$*"
EOF
} >"$agent"
chmod 755 "$agent"
say "wrote the rsh agent $agent"

# --- the job ----------------------------------------------------------------------------------------------
"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >"$work/prepare.log" 2>&1 ||
    { cat "$work/prepare.log"; fail "prepare failed"; }
say "prepared the dataset: $(head -1 "$work/prepare.log")"
# 4x4 for 8 steps, a fade-in to 8x8 over 8 steps, then 4 steps at 8x8: 20 steps of 8 images.
flags=(--dataset "$work/set.pgds" --preset tiny --resolution 8 --stabilize-kimg 0.064 --fade-kimg 0.064
       --total-kimg 0.16 --tick-kimg 0.04)

tcp_run=(mpirun --allow-run-as-root --hostfile "$hostfile" -np 2
         --mca plm_rsh_agent "$agent"
         --mca oob_tcp_if_include 10.77.0.0/24
         --mca btl self,tcp --mca btl_tcp_if_include 10.77.0.0/24
         --map-by node --bind-to none --mca mpi_yield_when_idle 1 --display-map
         -x OPENBLAS_NUM_THREADS=1
         "$progan" train "${flags[@]}" --out "$work/tcp")
say "running on two hosts over TCP: ip netns exec $ns_a ${tcp_run[*]}"
started=$(date +%s%N)
run_limited "$limit" "$work/tcp.log" ip netns exec "$ns_a" "${tcp_run[@]}"
status=$?
tcp_ms=$((($(date +%s%N) - started) / 1000000))
# OpenMPI prints the job map (--display-map) twice: show it once.
awk '/Data for JOB/ && ++maps > 1 { skip = 1 } skip && /^ =+$/ { skip = 0; next } !skip' "$work/tcp.log" |
    sed 's/^/    | /'
((status == 0)) || fail "the two-host run exited with status $status"
[[ -s $work/agent.log ]] || fail "mpirun never called the rsh agent: rank 1 did not run on a host of its own"
say "mpirun called the rsh agent (its log, cut to 160 columns):"
cut -c1-160 "$work/agent.log" | sed 's/^/    | /'
grep -q "^runs in $ns_b: " "$work/agent.log" || fail "nothing was started on 10.77.0.2 ($ns_b)"
say "two-host run finished in $tcp_ms ms"

shm_run=(mpirun --allow-run-as-root -np 2 --oversubscribe -x OPENBLAS_NUM_THREADS=1
         "$progan" train "${flags[@]}" --out "$work/shm")
say "running on one host over shared memory: ${shm_run[*]}"
started=$(date +%s%N)
run_limited "$limit" "$work/shm.log" "${shm_run[@]}"
status=$?
shm_ms=$((($(date +%s%N) - started) / 1000000))
((status == 0)) || { sed 's/^/    | /' "$work/shm.log"; fail "the shared-memory run exited with status $status"; }
say "shared-memory run finished in $shm_ms ms: $(tail -1 "$work/shm.log")"

# --- the comparison ---------------------------------------------------------------------------------------
tcp_ckpt=$work/tcp/checkpoints/final.ckpt
shm_ckpt=$work/shm/checkpoints/final.ckpt
[[ -s $tcp_ckpt ]] || fail "the two-host run left no $tcp_ckpt"
[[ -s $shm_ckpt ]] || fail "the shared-memory run left no $shm_ckpt"
if cmp "$tcp_ckpt" "$shm_ckpt"; then
    say "PASS: the final checkpoints are byte-identical ($(stat -c %s "$tcp_ckpt") bytes)"
else
    echo "######################################################################"
    echo "multihost: WARNING: the final checkpoints are NOT byte-identical; comparing them with a tolerance"
    echo "######################################################################"
    "$progan" inspect "$tcp_ckpt" --compare "$shm_ckpt" --tolerance 1e-5 ||
        fail "TCP and shared memory disagree beyond the tolerance"
    say "PASS (within tolerance 1e-5, not bit for bit)"
fi
