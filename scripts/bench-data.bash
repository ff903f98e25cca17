# Sourced by scripts/bench.sh --data (needs $progan, say, median, field, ratio, $report): the dataset figures.
#   1. open and first-batch time of synthetic 64x64 datasets of 1k and 50k images (the open must not grow);
#   2. `progan verify` in GB/s against zlib's crc32 (Python's zlib module) over the same file;
#   3. `prepare` throughput for 5000 JPEGs and 5000 PNGs (256x256, to 64x64) on 1 rank (1 core, then 2
#      threads on 2 cores, by taskset) and on 2 ranks (`mpirun -np 2`, one core each: the ranks split the
#      files), the three outputs compared with cmp, beside PIL doing the same decode, crop and BOX resize in 1
#      and 2 processes (scripts/data/pil_prepare.py, dataset_tool.py's steps), with the load before and after.
# DATA_RUNS (default 3) runs of each; the figure is the median. PIL: the peer's venv (PROGAN_PEER_VENV) when it
# has Pillow and NumPy, else Pillow and NumPy from PyPI in .venv-bench.
data_runs=${DATA_RUNS:-3}
data_work=$(mktemp -d)
trap 'rm -rf "$data_work" "$report"' EXIT
bench_python=${PROGAN_PEER_VENV:-.venv-peer}/bin/python
[[ -x $bench_python ]] && "$bench_python" -c 'import PIL, numpy' 2>/dev/null || bench_python=.venv-bench/bin/python
if [[ ! -x $bench_python ]] || ! "$bench_python" -c 'import PIL, numpy' 2>/dev/null; then
    python3 -m venv .venv-bench && .venv-bench/bin/pip install -q pillow numpy
fi

say "## Datasets: open, first batch, verify"
say ""
say "| images (64x64) | file | open (median ms) | first batch of 32 (median ms) |"
say "|---|---|---|---|"
for count in 1000 50000; do
    line=$("$progan" bench data "$data_work/$count.pgds" --synthetic "$count" --repetitions 9)
    megabytes=$(($(field bytes "$line") / 1000000))
    say "| $count | $megabytes MB | $(field open_ms "$line") | $(field first_batch_ms "$line") |"
done
verify_rates=() zlib_rates=()
for _ in $(seq "$data_runs"); do
    verify_rates+=("$("$progan" verify "$data_work/50000.pgds" | sed -nE 's/.*\(([0-9.]+) GB\/s\).*/\1/p')")
    zlib_rates+=("$("$bench_python" -c '
import sys, time, zlib
start, crc, size = time.perf_counter(), 0, 0
with open(sys.argv[1], "rb", buffering=0) as file:
    while chunk := file.read(1 << 20):
        crc, size = zlib.crc32(chunk, crc), size + len(chunk)
print(f"{size / (time.perf_counter() - start) / 1e9:.2f}")' "$data_work/50000.pgds")")
done
verify_rate=$(median "${verify_rates[@]}") zlib_rate=$(median "${zlib_rates[@]}")
say ""
say "verify of the 50k file (CRC-32C per 1 MiB chunk, all cores): $verify_rate GB/s; zlib crc32 over the same"
say "bytes (one core, Python's zlib, page cache warm): $zlib_rate GB/s; ratio $(ratio "$verify_rate" "$zlib_rate")."
say ""

say "## prepare: 5000 images 256x256 to 64x64, images/s (median of $data_runs)"
say ""
"$bench_python" scripts/data/make_images.py "$emoji" "$data_work/images" 5000 256
say "load before: $(uptime | sed 's/.*load average/load average/'); PIL $("$bench_python" -c 'import PIL; print(PIL.__version__)')"
say ""
say "| input | progan 1 rank, 1 core | progan 1 rank, 2 threads | progan 2 ranks | PIL 1 process |" \
    "PIL 2 processes | progan/PIL, 1 core | progan 2 ranks/PIL 2 |"
say "|---|---|---|---|---|---|---|---|"
# prepare_rate FOLDER OUTPUT LAUNCHER...: images/s of one `progan prepare` to 64x64 started by LAUNCHER.
prepare_rate() {
    local folder=$1 output=$2
    shift 2
    "$@" "$progan" prepare "$folder" --out "$output" --resolution 64 2>/dev/null |
        sed -nE '1s/.*\(([0-9.]+) images\/s.*/\1/p'
}
# pil_rate FOLDER CORES WORKERS: images/s of PIL's decode and resize to 64x64 in WORKERS processes on CORES.
pil_rate() { field images_per_second "$(taskset -c "$2" "$bench_python" scripts/data/pil_prepare.py "$1" 64 "$3")"; }
for kind in jpg png; do
    folder=$data_work/images/$kind
    ours1=() ours2=() mpi=() pil1=() pil2=()
    for _ in $(seq "$data_runs"); do
        ours1+=("$(prepare_rate "$folder" "$data_work/1.pgds" taskset -c 0)")
        ours2+=("$(prepare_rate "$folder" "$data_work/2.pgds" taskset -c 0,1)")
        # OpenMPI binds each of the 2 ranks to a core of its own.
        mpi+=("$(prepare_rate "$folder" "$data_work/m.pgds" mpirun --allow-run-as-root -np 2)")
        pil1+=("$(pil_rate "$folder" 0 1)")
        pil2+=("$(pil_rate "$folder" 0,1 2)")
    done
    cmp -s "$data_work/1.pgds" "$data_work/2.pgds" && cmp -s "$data_work/1.pgds" "$data_work/m.pgds" ||
        say "**the $kind datasets from 1 core, 2 cores and mpirun differ**"
    one=$(median "${ours1[@]}") ranks=$(median "${mpi[@]}") pil_one=$(median "${pil1[@]}") pil=$(median "${pil2[@]}")
    say "| $kind | $one | $(median "${ours2[@]}") | $ranks | $pil_one | $pil | $(ratio "$one" "$pil_one") |" \
        "$(ratio "$ranks" "$pil") |"
done
say ""
say "load after: $(uptime | sed 's/.*load average/load average/')"
say ""
say "progan reads each file twice (its header for the size, then the whole image) but decodes it once, and"
say "stores all levels 4..64 in the file; PIL decodes once and stores nothing. The three progan outputs are"
say "compared with cmp."
