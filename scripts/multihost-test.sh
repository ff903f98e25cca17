#!/usr/bin/env bash
# Four "hosts" on one machine: a deterministic `tiny` training job of 8 ranks, two on each of four network
# namespaces (with host names of their own), talking over TCP across a bridge and over shared memory within
# a host, through a resolution change, must end with the same final checkpoint, bit for bit, as the same
# job on one rank; so must the same job with its sums reduced in two levels (PROGAN_TWO_LEVEL_SUMS=1:
# within each host, across the hosts' first ranks, back within each host). (Deterministic mode sums
# gradients exactly in fixed point, so neither the rank count nor the transport nor the order in which MPI
# adds the ranks' sums can change a single bit.)
#
# What it sets up, all of it removed again on exit, failure, Ctrl-C or SIGTERM:
#   - network namespaces progan-h1-PID .. progan-h4-PID (the hosts 10.77.0.1 .. 10.77.0.4, see
#     hostfiles/multihost-test) and progan-sw-PID holding a bridge, the "switch", with one veth pair from
#     each host to it; the pairs and addresses are created inside the namespaces: the root namespace never
#     sees them, and no traffic leaves them; the processes of each host run in a UTS namespace named
#     progan-hN (gone with them);
#   - a temporary directory (readable from every namespace: they share the file system) holding the
#     dataset, the runs, a /tmp per host and an rsh agent that OpenMPI calls in place of ssh and that
#     runs the command it is given inside the namespaces of the "host" it names.
# mpirun runs inside the first host's namespace with ranks 0 and 1, and starts its daemons for the other
# three hosts through the agent. The machine has fewer cores than ranks: the ranks yield when idle. Needs
# root (CAP_SYS_ADMIN): where network namespaces cannot be made, it prints "SKIPPED: <reason>" and exits 0;
# any other failure exits non-zero.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
progan=$repo/.build/release/progan
hostfile=$repo/hostfiles/multihost-test
emoji=/usr/share/javascript/emojify.js/images/emoji
hosts=4           # network namespaces, each a "host" with its own address
ranks_per_host=2  # as the hostfile's slots say
switch=progan-sw-$$
host_ns=()        # host i (from 1) is namespace ${host_ns[i-1]} at address 10.77.0.i
for ((i = 1; i <= hosts; i++)); do host_ns+=("progan-h$i-$$"); done
limit=120  # seconds for one training job; each takes about 1-5 s here

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
    # Whatever still runs inside our namespaces was started by this script: the hosts' daemons if mpirun
    # died before it could stop it, or mpirun itself after a timeout. Stop it, then delete the namespaces
    # (which deletes the veth pairs and the bridge with them).
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
    ((${#namespaces[@]} == 0)) || say "deleted namespaces ${namespaces[*]} and their links"
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

# --- the hosts and their switch ----------------------------------------------------------------------------
if ! output=$(ip netns add "$switch" 2>&1); then
    if grep -qiE 'not permitted|permission denied|read-only file system' <<<"$output"; then
        skip "network namespaces are not permitted here (needs root / CAP_SYS_ADMIN): ip netns add: $output"
    fi
    fail "ip netns add $switch: $output"
fi
namespaces+=("$switch")
for ns in "${host_ns[@]}"; do
    ip netns add "$ns" || fail "ip netns add $ns"
    namespaces+=("$ns")
done
say "created network namespaces ${namespaces[*]}"

ip -n "$switch" link add br0 type bridge || fail "could not create the bridge in $switch"
ip -n "$switch" link set br0 up || fail "could not bring up the bridge"
for ((i = 1; i <= hosts; i++)); do
    ns=${host_ns[i - 1]}
    # eth0 in the host, port$i on the switch's bridge.
    ip -n "$ns" link add eth0 type veth peer name "port$i" netns "$switch" || fail "could not create veth pair $i"
    ip -n "$switch" link set "port$i" master br0 up || fail "could not plug port$i into the bridge"
    ip -n "$ns" addr add "10.77.0.$i/24" dev eth0 || fail "could not give $ns its address"
    ip -n "$ns" link set lo up || fail "could not bring up lo in $ns"
    ip -n "$ns" link set eth0 up || fail "could not bring up eth0 in $ns"
done
say "joined them through a bridge in $switch: hosts 10.77.0.1-$hosts/24"

work=$(mktemp -d -t progan-multihost.XXXXXX) || fail "mktemp failed"
chmod 755 "$work"

# The rsh agent. OpenMPI calls it as it would call ssh: AGENT [ssh options] HOST COMMAND... and, like
# ssh, the words of COMMAND are joined by spaces and given to a shell on the host.
agent=$work/netns-rsh
{
    echo '#!/usr/bin/env bash'
    echo "# Written by scripts/multihost-test.sh: plays ssh to the hosts of hostfiles/multihost-test."
    echo "log=$(printf '%q' "$work/agent.log")"
    echo "tmp_base=$(printf '%q' "$work/tmp")"
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
    for ((i = 1; i <= hosts; i++)); do echo "    10.77.0.$i) ns=${host_ns[i - 1]} name=progan-h$i ;;"; done
    cat <<'EOF'
    *) echo "netns-rsh: unknown host '$host'" >&2; exit 255 ;;
esac
echo "called as: netns-rsh $called_as" >>"$log"
echo "runs in $ns: $*" >>"$log"
# A /tmp of the host's own for OpenMPI's session directories: with one /tmp and one host name, the daemons
# of different "hosts" race to make the same directory.
export OMPI_MCA_orte_tmpdir_base=$tmp_base/$ns
mkdir -p "$OMPI_MCA_orte_tmpdir_base"
# A host name of its own too (a UTS namespace), as a real host has: OpenMPI tells nodes apart by it.
exec ip netns exec "$ns" unshare --uts sh -c "hostname $name && $*"
EOF
} >"$agent"
chmod 755 "$agent"
say "wrote the rsh agent $agent"

# --- the job ----------------------------------------------------------------------------------------------
"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >"$work/prepare.log" 2>&1 ||
    { cat "$work/prepare.log"; fail "prepare failed"; }
say "prepared the dataset: $(head -1 "$work/prepare.log")"
# Global minibatch 32 in every phase: 8 micro-batches of 4 (the minibatch-stddev group), one per rank, so
# every rank computes. 4x4 for 2 steps, a fade-in to 8x8 over 2 steps, then 2 steps at 8x8.
echo '{"schedule": {"minibatch_default": 32}}' >"$work/batches.json"
flags=(--dataset "$work/set.pgds" --preset tiny --config "$work/batches.json" --resolution 8
       --stabilize-kimg 0.064 --fade-kimg 0.064 --total-kimg 0.192 --tick-kimg 0.064)
ranks=$((hosts * ranks_per_host))

on_hosts=(mpirun --allow-run-as-root --hostfile "$hostfile" -np "$ranks"
          --mca plm_rsh_agent "$agent"
          --mca oob_tcp_if_include 10.77.0.0/24
          --mca btl self,vader,tcp --mca btl_tcp_if_include 10.77.0.0/24
          --map-by "ppr:$ranks_per_host:node" --bind-to none --mca mpi_yield_when_idle 1
          -x OPENBLAS_NUM_THREADS=1 -x PROGAN_TWO_LEVEL_SUMS)
export PROGAN_TWO_LEVEL_SUMS=0
# mpirun runs on the first host, under its address and name (the agent starts the others so).
in_host1=(ip netns exec "${host_ns[0]}" unshare --uts sh -c 'hostname "$0" && exec "$@"' progan-h1)
tcp_run=("${on_hosts[@]}" --display-map "$progan" train "${flags[@]}" --threads 1 --out "$work/hosts")
say "running $ranks ranks on $hosts hosts: ${in_host1[*]} ${tcp_run[*]}"
started=$(date +%s%N)
run_limited "$limit" "$work/hosts.log" "${in_host1[@]}" "${tcp_run[@]}"
status=$?
hosts_ms=$((($(date +%s%N) - started) / 1000000))
# OpenMPI prints the job map (--display-map) twice: show it once. (It names the first host by the
# machine's name, which all the namespaces share.)
awk '/Data for JOB/ && ++maps > 1 { skip = 1 } skip && /^ =+$/ { skip = 0; next } !skip' "$work/hosts.log" \
    >"$work/one-map.log"
sed 's/^/    | /' "$work/one-map.log"
((status == 0)) || fail "the $hosts-host run exited with status $status"
[[ -s $work/agent.log ]] || fail "mpirun never called the rsh agent: no rank ran on a host of its own"
say "mpirun called the rsh agent (its log, cut to 160 columns):"
cut -c1-160 "$work/agent.log" | sed 's/^/    | /'
for ((i = 2; i <= hosts; i++)); do
    grep -q "^runs in ${host_ns[i - 1]}: " "$work/agent.log" || fail "nothing was started on 10.77.0.$i"
done
# Counted in the whole log: where the ranks' output interleaves with it, the second map may stay.
nodes=$(grep -o "Data for node: [^[:space:]]*" "$work/hosts.log" | sort -u | wc -l)
others=$(grep "Data for node: " "$work/hosts.log" | grep -vc "Num procs: $ranks_per_host\$")
((nodes == hosts && others == 0)) ||
    fail "the job map shows $nodes hosts, $others of them without $ranks_per_host ranks"
! grep -q "leave ranks idle" "$work/hosts.log" ||
    fail "some ranks were idle: $(grep "leave ranks idle" "$work/hosts.log")"
say "$hosts-host run ($ranks_per_host ranks on each) finished in $hosts_ms ms"

one_run=("$progan" train "${flags[@]}" --threads 1 --out "$work/one")
say "running on one rank: ${one_run[*]}"
started=$(date +%s%N)
OPENBLAS_NUM_THREADS=1 run_limited "$limit" "$work/one.log" "${one_run[@]}"
status=$?
one_ms=$((($(date +%s%N) - started) / 1000000))
((status == 0)) || { sed 's/^/    | /' "$work/one.log"; fail "the one-rank run exited with status $status"; }
say "one-rank run finished in $one_ms ms: $(tail -1 "$work/one.log")"

# The same job with the fixed-point sums reduced in two levels: within each host, across the hosts' first
# ranks, back within each host. mpi-check first sums 1- to 8-byte integers that way.
export PROGAN_TWO_LEVEL_SUMS=1
run_limited "$limit" "$work/two-level-check.log" "${in_host1[@]}" "${on_hosts[@]}" \
    "$repo/.build/release/mpi-check" ||
    { sed 's/^/    | /' "$work/two-level-check.log"; fail "mpi-check with two-level sums failed"; }
say "two-level sums: $(tail -1 "$work/two-level-check.log")"
run_limited "$limit" "$work/two-level.log" "${in_host1[@]}" "${on_hosts[@]}" \
    "$progan" train "${flags[@]}" --threads 1 --out "$work/two-level" ||
    { sed 's/^/    | /' "$work/two-level.log"; fail "the $hosts-host run with two-level sums failed"; }
say "$hosts-host run with two-level sums: $(tail -1 "$work/two-level.log")"

# --- the comparison ---------------------------------------------------------------------------------------
one_ckpt=$work/one/checkpoints/final.ckpt
[[ -s $one_ckpt ]] || fail "the one-rank run left no $one_ckpt"
for run in hosts two-level; do
    ckpt=$work/$run/checkpoints/final.ckpt
    [[ -s $ckpt ]] || fail "the $run run left no $ckpt"
    if ! cmp "$ckpt" "$one_ckpt"; then
        "$progan" inspect "$ckpt" --compare "$one_ckpt" | sed 's/^/    | /'
        fail "$ranks ranks on $hosts hosts ($run) and 1 rank give different checkpoints"
    fi
done
say "PASS: $ranks ranks on $hosts hosts, one- and two-level sums, and 1 rank give byte-identical checkpoints" \
    "($(stat -c %s "$one_ckpt") bytes, md5 $(md5sum <"$one_ckpt" | cut -c1-12))"
