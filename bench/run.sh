#!/usr/bin/env bash
# make bench: the distributed guest against one node, measured side by side in one run.
#   bench/run.sh [--quick] [--runs N] [--only NAME,...] [--out DIR]
# Every benchmark of bench/suite/ (see its README) runs its configs interleaved, round after
# round (A B A B A B), then `dsmvm-bench summarize` turns the runs into medians, spreads and
# ratios against the baseline config, `dsmvm-bench report` prints the table, and gnuplot
# draws the plots. Everything lands in DIR (default build/bench): one JSON per benchmark,
# bench.json with all of them, *.png/*.svg, and every run's directory under DIR/runs/.
# This script only runs commands; parsing and statistics are in C (bench/*.c).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh

quick_mode=0 runs=3 only= out=build/bench
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick_mode=1; shift ;;
        --runs) runs=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) die "usage: $0 [--quick] [--runs N] [--only NAME,...] [--out DIR]" ;;
    esac
done
[ "$runs" -ge 1 ] 2>/dev/null || die "--runs needs a positive number"
out=$(realpath -m "$out")

TOOL=$ROOT/build/bench/bin/dsmvm-bench
QEMU=$ROOT/build/qemu/qemu-system-x86_64
DSM_BENCH=$ROOT/host/dsm/build/release/dsm-bench
make -s -C bench all || die "building dsmvm-bench failed"
for f in "$QEMU" build/initramfs.cpio.gz; do
    [ -e "$f" ] || die "$f is missing: run 'make' first"
done
RUNS_DIR=$out/runs
rm -rf "$RUNS_DIR"
mkdir -p "$RUNS_DIR"
rm -f "$out"/*.json "$out"/*.dat "$out"/*.png "$out"/*.svg

# load_bench FILE: the benchmark's settings into the variables the suite README lists.
load_bench() {
    unset title quick quick_configs quick_args workload args timeout baseline configs probe \
          metrics ratios "${!probe_@}"
    title= quick_configs= quick_args= workload=hello args= timeout=300 baseline= probe=
    metrics= ratios= configs=()
    # shellcheck disable=SC1090
    . "$1"
    if [ "$quick_mode" = 1 ] && [ -n "$quick_args" ]; then args=$quick_args; fi
    # A config's name also names its probe_NAME variable.
    local c
    for c in "${configs[@]}"; do
        [[ $(config_field "$c" 1) =~ ^[A-Za-z0-9_]+$ ]] ||
            die "$1: config name '$(config_field "$c" 1)': letters, digits and _ only"
    done
}

bench_name() { local n; n=$(basename "$1" .sh); echo "${n#[0-9][0-9]-}"; }

# config_field "NAME|HOW|timeout=S" N: the Nth field (1 name, 2 how, 3 options).
config_field() { echo "$1" | cut -d'|' -f"$2"; }

# selected_configs: names of the loaded benchmark's configs this run measures.
selected_configs() {
    local c cname
    for c in "${configs[@]}"; do
        cname=$(config_field "$c" 1)
        if [ "$quick_mode" = 1 ] && [ -n "$quick_configs" ]; then
            case " $quick_configs " in *" $cname "*) ;; *) continue ;; esac
        fi
        echo "$cname"
    done
}


# guess_seconds CONFIG: a first estimate of one run of the loaded benchmark (replaced by the
# mean of its measured runs as they finish): a boot and power-off took about 5 s on 1 node and
# 5 to 10 s on 2 (tuned, stock) on a 2-core TCG machine, a few seconds more per further node;
# plus the workload's first argument, its seconds for the timed workloads.
guess_seconds() {
    local c how= nodes extra t max
    for c in "${configs[@]}"; do
        [ "$(config_field "$c" 1)" = "$1" ] && how=$(config_field "$c" 2)
    done
    if [ "$how" = dsm-bench ]; then echo 10; return; fi
    nodes=$(echo "$how" | sed -n 's/.*--nodes \([0-9]*\).*/\1/p')
    extra=$(echo "$args" | grep -o '[0-9]\+' | head -n 1)
    t=$(( ${nodes:-1} == 1 ? 6 : 8 + 3 * (${nodes:-1} - 1) ))
    t=$(( t + ${extra:-0} ))
    max=$(config_timeout "$1")
    echo $(( t < max ? t : max ))
}

# config_timeout CONFIG: the launcher timeout of that config of the loaded benchmark.
config_timeout() {
    local c opt
    for c in "${configs[@]}"; do
        if [ "$(config_field "$c" 1)" = "$1" ]; then
            opt=$(config_field "$c" 3)
            case "$opt" in timeout=*) echo "${opt#timeout=}"; return ;; esac
        fi
    done
    echo "$timeout"
}

remaining_estimate() {
    local total=0 i f r c key
    for ((i = $1; i < ${#plan[@]}; i++)); do
        read -r f r c <<< "${plan[$i]}"
        key=$f/$c
        [ -n "${timed_out[$key]:-}" ] && continue
        if [ -n "${spent_count[$key]:-}" ]; then
            total=$(( total + spent_sum[$key] / spent_count[$key] ))
        else
            total=$(( total + guess[$key] ))
        fi
    done
    echo "$total"
}

worst_case() {
    local total=0 p f r c
    for p in "${plan[@]}"; do
        read -r f r c <<< "$p"
        load_bench "$f"
        total=$(( total + $(config_timeout "$c") + 15 ))
    done
    echo "$total"
}

declare -A guess spent_sum spent_count timed_out
# The plan: one line per run, "FILE ROUND CONFIG", interleaved by round.
plan=()
benches=()
for f in bench/suite/[0-9]*.sh; do
    name=$(bench_name "$f")
    quick_file=$(grep -c '^quick=1' "$f")
    if [ -n "$only" ]; then
        case ",$only," in *",$name,"*) ;; *) continue ;; esac
    elif [ "$quick_mode" = 1 ] && [ "$quick_file" = 0 ]; then
        continue
    fi
    load_bench "$f"
    benches+=("$f")
    for round in $(seq 1 "$runs"); do
        for cname in $(selected_configs); do
            plan+=("$f $round $cname")
            [ -n "${guess[$f/$cname]:-}" ] || guess[$f/$cname]=$(guess_seconds "$cname")
        done
    done
done
[ ${#plan[@]} -gt 0 ] || die "no benchmark selected"

# The sdt_dsm:fault_end probe of this QEMU binary, as a uprobe of our own group (perf probe
# names SDT events sdt_dsm:*, shared by everybody's binaries on this host); removed on exit.
PROBE_GROUP=dsmvm_bench_$$
UPROBES=/sys/kernel/tracing/uprobe_events
uprobe_added=0
add_probe() {
    [ $uprobe_added = 1 ] && return 0
    [ -e "$UPROBES" ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
    local def
    # perf looks SDT notes up in its build-id cache, where a new build is not yet (or is, from
    # perf record, without its notes): add the binary afresh.
    perf buildid-cache --remove "$(realpath "$QEMU")" > /dev/null 2>&1
    perf buildid-cache --add "$(realpath "$QEMU")" > /dev/null 2>&1
    def=$(perf probe -x "$QEMU" -D sdt_dsm:fault_end 2>/dev/null | grep -m 1 '^p:sdt_dsm/fault_end ')
    [ -n "$def" ] && echo "p:$PROBE_GROUP/fault_end ${def#* }" >> "$UPROBES" 2>/dev/null || return 1
    uprobe_added=1
}
launcher_pid=
cleanup() {
    if [ -n "$launcher_pid" ] && kill -0 "$launcher_pid" 2>/dev/null; then
        kill -TERM "$launcher_pid" 2>/dev/null
        wait "$launcher_pid" 2>/dev/null
    fi
    [ $uprobe_added = 1 ] && echo "-:$PROBE_GROUP/fault_end" >> "$UPROBES" 2>/dev/null
}
trap cleanup EXIT
trap 'echo; step "interrupted"; exit 130' INT TERM

# reap DIR: processes of a run still alive after its launcher (should not happen: the
# launcher tears its nodes down) are stopped by their ids.
reap() {
    local pid
    for pid in $(pgrep -f -- "$1/" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null
    done
}

# run_one FILE CONFIG DIR: one run into DIR, then its metrics into DIR/metrics.txt.
run_one() {
    local f=$1 cname=$2 dir=$3 c how=
    load_bench "$f"
    for c in "${configs[@]}"; do
        [ "$(config_field "$c" 1)" = "$cname" ] && how=$(config_field "$c" 2)
    done
    local t; t=$(config_timeout "$cname")
    mkdir -p "$dir"
    if [ "$how" = dsm-bench ]; then
        timeout -k 5 "$t" "$DSM_BENCH" --nodes 2 --transport tcp --json > "$dir/dsm-bench.json" \
            2> "$dir/dsm-bench.err"
    else
        local p=$probe var=probe_$cname qemu_opt=() watch_pid= nodes
        [ -n "${!var:-}" ] && p=${!var}
        nodes=$(echo "$how" | sed -n 's/.*--nodes \([0-9]*\).*/\1/p')
        case "$p" in
            perf-stat) qemu_opt=(--qemu "$ROOT/bench/qemu-under-perf.sh")
                       export BENCH_PERF=stat ;;
            fault-latency)
                if add_probe; then
                    qemu_opt=(--qemu "$ROOT/bench/qemu-under-perf.sh")
                    export BENCH_PERF=record BENCH_PERF_EVENT=$PROBE_GROUP:fault_end
                else
                    echo "cannot add the sdt_dsm:fault_end probe to $QEMU" > "$dir/probe.err"
                fi ;;
        esac
        export BENCH_QEMU=$QEMU BENCH_PERF_DIR=$dir
        # shellcheck disable=SC2086
        timeout -k 10 $((t + 60)) host/launcher/dsmvm-launch --quiet --run-dir "$dir" \
            --workload "$workload" --args "$args" --timeout "$t" $how "${qemu_opt[@]}" \
            > "$dir/launch.out" 2>&1 &
        launcher_pid=$!
        # DSM counters over QMP between two console markers
        local marks=()
        case "$p" in
            idle) marks=("DSMVM-IDLE: begin" "DSMVM-IDLE: end" idle-snapshots.txt) ;;
            workload) marks=("DSMVM: userspace up" "DSMVM: workload $workload exit="
                             workload-snapshots.txt) ;;
        esac
        if [ ${#marks[@]} -gt 0 ]; then
            "$TOOL" qmp-watch --run-dir "$dir" --nodes "${nodes:-1}" --begin "${marks[0]}" \
                --end "${marks[1]}" --out "${marks[2]}" --timeout "$t" \
                > "$dir/qmp-watch.out" 2>&1 &
            watch_pid=$!
        fi
        wait "$launcher_pid"
        launcher_pid=
        if [ -n "$watch_pid" ]; then
            kill -0 "$watch_pid" 2>/dev/null && kill "$watch_pid" 2>/dev/null
            wait "$watch_pid" 2>/dev/null
        fi
        reap "$dir"
        unset BENCH_PERF BENCH_PERF_EVENT
        local data
        for data in "$dir"/perf-*.data; do
            [ -e "$data" ] || continue
            perf script -i "$data" 2>/dev/null >> "$dir/fault-latency.txt"
            rm -f "$data"
        done
    fi
    "$TOOL" parse "$dir" > "$dir/metrics.txt"
}

# One line per run: what ran, how it ended, its headline numbers.
describe_run() {
    awk '$1 == "status" { s = $2 } $1 == "reason" && s != "ok" { $1 = ""; r = $0 }
         $1 == "time_to_userspace_s" { u = sprintf(", userspace %.1f s", $2) }
         $1 == "sysbench_events_per_s" { w = sprintf(", %.0f events/s", $2) }
         $1 == "stressng_bogo_ops_per_s" { w = sprintf(", %.1f bogo ops/s", $2) }
         $1 == "idle_faults_per_s" { w = sprintf(", idle %.1f faults/s", $2) }
         $1 == "fault_lat_p50_us" { w = sprintf(", fault p50 %.0f us", $2) }
         $1 == "floor_us" { w = sprintf(", floor %.0f us", $2) }
         $1 == "syscalls_per_remote_fault" { w = w sprintf(", %.1f syscalls/remote fault", $2) }
         $1 == "dsm_faults_remote" { f = sprintf(", %d remote faults", $2) }
         $1 == "remote_faults_per_event" { e = sprintf(", %.2f per event", $2) }
         END { printf "%s%s%s%s%s%s\n", s, r ? " (" substr(r, 2) ")" : "", u, w, f, e }' "$1"
}

total=${#plan[@]}
est=$(remaining_estimate 0)
step "make bench$([ "$quick_mode" = 1 ] && echo " QUICK=1"): ${#benches[@]} benchmarks, $total runs, $runs rounds each;" \
     "about $(( (est + 59) / 60 )) min (at most $(( ($(worst_case) + 59) / 60 )) min if every run times out)"
t_start=$SECONDS
for ((i = 0; i < total; i++)); do
    read -r f round cname <<< "${plan[$i]}"
    name=$(bench_name "$f")
    dir=$RUNS_DIR/$name/$cname-$round
    label=$(printf '[%*d/%d] %-16s %-8s round %d/%d' ${#total} $((i + 1)) "$total" "$name" "$cname" "$round" "$runs")
    if [ -n "${timed_out[$f/$cname]:-}" ]; then
        echo "$label: skipped (timed out in an earlier round)"
        continue
    fi
    printf '%s ... ' "$label"
    t0=$SECONDS
    run_one "$f" "$cname" "$dir"
    dt=$((SECONDS - t0))
    spent_sum[$f/$cname]=$(( ${spent_sum[$f/$cname]:-0} + dt ))
    spent_count[$f/$cname]=$(( ${spent_count[$f/$cname]:-0} + 1 ))
    if grep -qx 'status timeout' "$dir/metrics.txt"; then
        timed_out[$f/$cname]=1
    fi
    left=$(remaining_estimate $((i + 1)))
    echo "${dt} s: $(describe_run "$dir/metrics.txt"); ~$(( (left + 59) / 60 )) min left"
    # The run belongs to its benchmark's plan (the order is the interleaving).
    echo "run $cname $dir" >> "$RUNS_DIR/$name.runs"
done
step "all runs done in $(( (SECONDS - t_start + 59) / 60 )) min"

outputs=()
for f in "${benches[@]}"; do
    name=$(bench_name "$f")
    load_bench "$f"
    planfile=$RUNS_DIR/$name.plan
    : > "$planfile"
    for c in "${configs[@]}"; do
        cname=$(config_field "$c" 1)
        case " $(selected_configs | tr '\n' ' ') " in *" $cname "*) ;; *) continue ;; esac
        echo "config $cname $(config_timeout "$cname") $(config_field "$c" 2)" >> "$planfile"
    done
    [ -f "$RUNS_DIR/$name.runs" ] && cat "$RUNS_DIR/$name.runs" >> "$planfile"
    ratio_opts=()
    for r in $ratios; do ratio_opts+=(--ratio "$r"); done
    if "$TOOL" summarize --name "$name" --title "$title" --baseline "$baseline" \
            --metrics "$metrics" "${ratio_opts[@]}" --out "$out/$name.json" "$planfile"; then
        outputs+=("$out/$name.json")
    fi
done
[ ${#outputs[@]} -gt 0 ] || die "no benchmark could be summarized (run directories in $RUNS_DIR)"
"$TOOL" report --out-dir "$out" $([ "$quick_mode" = 1 ] && echo --quick) "${outputs[@]}"
if command -v gnuplot >/dev/null; then
    lat=$(grep -vc '^#' "$out/latency.dat")
    for term in png svg; do
        gnuplot -e "dir='$out'; term='$term'; lat=$lat" bench/plot.gp 2> "$out/gnuplot-$term.log" ||
            echo "gnuplot ($term) failed: see $out/gnuplot-$term.log"
    done
else
    echo "gnuplot is missing (make deps): no plots"
fi
echo
step "results: $out/bench.json, one JSON per benchmark, plots $(cd "$out" && ls ./*.png 2>/dev/null | tr '\n' ' ')"
