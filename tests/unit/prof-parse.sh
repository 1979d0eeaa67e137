#!/usr/bin/env bash
# time-limit: 660: builds dsmvm-prof with sanitizers, parses recorded samples and renders the HTML report in headless Chromium (slow on a loaded machine), under its own 600 s limit
# dsmvm-prof on hand-written perf script text (TCG and KVM formats) and a small System.map:
# symbols, code attribution, verdicts, per-node counts, text width, and refusal of bad input.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
exec timeout 600 bash -s "$ROOT" <<'TEST'
set -euo pipefail
ROOT=$1
command -v jq > /dev/null || { echo "jq is missing (make deps)"; exit 77; }
# Built with ASan and UBSan: any memory error or undefined behaviour fails the test.
make -s -C "$ROOT/profiling" SAN=address,undefined
PROF=$ROOT/build/prof-san/dsmvm-prof
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=99 UBSAN_OPTIONS=halt_on_error=1:exitcode=99
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkrun() {   # dir accel
    mkdir -p "$1/profile"
    cat > "$1/profile/System.map" <<'MAP'
ffffffff81000000 T _text
ffffffff81100000 T tick_do_update_jiffies64
ffffffff81100400 T do_timer
ffffffff81100800 T rcu_read_x
ffffffff82000000 D jiffies
ffffffff82000000 D jiffies_64
ffffffff82000040 d tick_next_period
ffffffff82001000 d counter_a
ffffffff82001800 d counter_b
ffffffff83000000 B _end
MAP
    sha=$(sha256sum "$1/profile/System.map" | cut -d' ' -f1)
    printf '{"format": 1, "accelerator": "%s", "mem_mib": 512, "nodes": 2, "system_map_sha256": "%s"}\n' \
        "$2" "$sha" > "$1/profile/meta.json"
}

# --- TCG: page fault (data address, call chain into translated code), then fault_start/end.
# GPN 0x2000 holds jiffies_64 (RAM offset 0x2000000); 0x2001 holds counter_a/counter_b.
pf() {  # tid time addr frame-sym
    printf '1000/%s %s: page-faults/call-graph=dwarf,stack-size=2048/:     %s [unknown]\n' "$1" "$2" "$3"
    printf '\t    55d000001000 helper_atomic_cmpxchgq_le\n\t    7f0000001000 %s\n\n' "$4"
}
sdt() { # tid time probe args
    printf '1000/%s %s: sdt_dsm:%s: (55d000000100) %s     55d000000100 fn\n' "$1" "$2" "$3" "$4"
}
mkrun "$T/tcg" tcg
{
    # node 0: vCPU thread 11, fault thread 12
    pf 11 10.000000100 7f8002000000 guest-0xffffffff81100010
    sdt 12 10.000000200 fault_start "arg1=0 arg2=33554432 arg3=1 arg4=11 arg5=1"
    sdt 13 10.000000300 fault_end "arg1=0 arg2=33554432 arg3=1 arg4=50000 arg5=0 arg6=0"
    sdt 13 10.000001000 invalidation "arg1=8192 arg2=0"
    pf 11 10.000002000 7f8002000000 guest-0xffffffff81100010
    sdt 12 10.000002100 fault_start "arg1=0 arg2=33554432 arg3=1 arg4=11 arg5=1"
    sdt 13 10.000002300 page_received "arg1=8192 arg2=1"
    sdt 13 10.000002400 fault_end "arg1=0 arg2=33554432 arg3=1 arg4=100000 arg5=1 arg6=1"
    pf 11 10.000003000 7f8002001010 guest-0xffffffff81100810
    sdt 12 10.000003100 fault_start "arg1=0 arg2=33558544 arg3=1 arg4=11 arg5=1"
    sdt 13 10.000003200 fault_end "arg1=0 arg2=33558528 arg3=1 arg4=70000 arg5=0 arg6=1"
    pf 11 10.000005000 7f8002001010 guest-0xffffffff81100810
    sdt 12 10.000005100 fault_start "arg1=0 arg2=33558544 arg3=1 arg4=11 arg5=1"
    sdt 13 10.000005200 fault_end "arg1=0 arg2=33558528 arg3=1 arg4=90000 arg5=1 arg6=1"
    echo "# dsmvm-prof end"
} > "$T/tcg/profile/node0.script"
{
    # node 1: reads jiffies from do_timer, writes it (ping-pong), writes counter_b
    pf 21 10.000000500 7f9002000000 guest-0xffffffff81100410
    sdt 22 10.000000600 fault_start "arg1=0 arg2=33554432 arg3=0 arg4=21 arg5=1"
    sdt 23 10.000000900 fault_end "arg1=0 arg2=33554432 arg3=0 arg4=300000 arg5=1 arg6=0"
    pf 21 10.000001500 7f9002000000 guest-0xffffffff81100410
    sdt 22 10.000001600 fault_start "arg1=0 arg2=33554432 arg3=1 arg4=21 arg5=1"
    sdt 23 10.000001900 fault_end "arg1=0 arg2=33554432 arg3=1 arg4=300000 arg5=2 arg6=0"
    pf 21 10.000004000 7f9002001800 guest-0xffffffff81100820
    sdt 22 10.000004100 fault_start "arg1=0 arg2=33560576 arg3=1 arg4=21 arg5=1"
    sdt 23 10.000004200 fault_end "arg1=0 arg2=33558528 arg3=1 arg4=80000 arg5=1 arg6=0"
    # a fault in a QEMU helper with no translated frame: named after the helper
    printf '1000/21 10.000006000: page-faults/call-graph=dwarf,stack-size=2048/:     7f9003000000 [unknown]\n'
    printf '\t    55d000002000 address_space_rw\n\n'
    sdt 22 10.000006100 fault_start "arg1=0 arg2=50331648 arg3=0 arg4=21 arg5=1"
    sdt 23 10.000006200 fault_end "arg1=0 arg2=50331648 arg3=0 arg4=60000 arg5=0 arg6=0"
    echo "# dsmvm-prof end"
} > "$T/tcg/profile/node1.script"

"$PROF" report "$T/tcg" --quiet --json --no-html > "$T/tcg.json"
jq -e '.summary.total_faults == 8' "$T/tcg.json" > /dev/null || fail "total faults: $(jq .summary "$T/tcg.json")"
jq -e '.nodes[0].faults == 4 and .nodes[1].faults == 4 and .nodes[1].read_faults == 2' \
    "$T/tcg.json" > /dev/null || fail "per-node counts: $(jq -c .nodes "$T/tcg.json")"
jq -e '.nodes[0].invalidations == 1 and .nodes[0].pages_received == 1' "$T/tcg.json" \
    > /dev/null || fail "invalidations/transfers: $(jq -c .nodes "$T/tcg.json")"
jq -e '[.pages[] | select(.gpn == 8192)][0] | (.symbols | index("jiffies_64") != null)
       and ([.accesses[] | select(.node == 0 and .write and (.data_symbol | test("^jiffies(_64)?$"))
              and (.code_symbol == "tick_do_update_jiffies64+0x10"))] | length == 1)' \
    "$T/tcg.json" > /dev/null || fail "jiffies page: $(jq -c '.pages[0]' "$T/tcg.json")"
jq -e '[.pages[] | select(.gpn == 8193)][0] | .verdict == "FALSE SHARING"
       and ([.accesses[] | select(.data_symbol == "counter_a+0x10")] | length == 1)
       and ([.accesses[] | select(.data_symbol == "counter_b")] | length == 1)' \
    "$T/tcg.json" > /dev/null || fail "false sharing page: $(jq -c '.pages[] | select(.gpn == 8193)' "$T/tcg.json")"
jq -e '[.pages[] | select(.gpn == 8192)][0].verdict == "true sharing"' "$T/tcg.json" \
    > /dev/null || fail "jiffies page verdict"
jq -e '[.pages[].accesses[] | select(.code_symbol == "qemu:address_space_rw")] | length == 1' \
    "$T/tcg.json" > /dev/null || fail "helper attribution"
jq -e '.summary.classes["cold (zero page)"] == 3 and .summary.classes["false sharing"] == 1' \
    "$T/tcg.json" > /dev/null || fail "classes: $(jq -c .summary.classes "$T/tcg.json")"
"$PROF" report "$T/tcg" --quiet --no-html > "$T/tcg.txt"
awk 'length > 100 { print "line " NR " has " length " columns"; bad = 1 } END { exit bad }' \
    "$T/tcg.txt" || fail "text report wider than 100 columns"
grep -q "tick_do_update_jiffies64+0x10" "$T/tcg.txt" || fail "text table 2 lacks the code symbol"

# --- The same faults recorded as fault_end alone (what record.py records): the end names
# the faulting thread, byte and exactness itself, and the fault started its latency earlier.
# A page fault of the woken thread between the start and the end must not be taken for it.
endonly() {    # old-format script -> fault_end-only script
    awk '/sdt_dsm:fault_start:/ {
             split($2, t, ":"); m = $0; sub(/.*arg1=/, "arg1=", m); split(m, a, /[ =]/)
             page = int(a[4] / 4096); start_t[page] = t[1]; tid[page] = a[8]; exact[page] = a[10]
             off[page] = a[4]; next }
         /sdt_dsm:fault_end:/ {
             split($2, t, ":"); m = $0; sub(/.*arg1=/, "arg1=", m); split(m, a, /[ =]/)
             page = int(a[4] / 4096); lat = sprintf("%.0f", (t[1] - start_t[page]) * 1e9)
             sub(/arg2=[0-9]+/, "arg2=" off[page]); sub(/arg4=[0-9]+/, "arg4=" lat)
             sub(/arg6=[0-9]+/, "& arg7=" tid[page] " arg8=" exact[page])
             tidnum = tid[page]
             printf "1000/%s %.9f: page-faults/call-graph=dwarf,stack-size=2048/:     7f8002005000 [unknown]\n", tidnum, t[1] - 0.00000001
             printf "\t    7f0000001000 guest-0xffffffff81100800\n\n" }
         { print }' "$1"
}
mkrun "$T/endonly" tcg
for i in 0 1; do endonly "$T/tcg/profile/node$i.script" > "$T/endonly/profile/node$i.script"; done
grep -q fault_start "$T/endonly/profile/node0.script" && fail "endonly: fault_start left"
grep -q 'arg7=11 arg8=1' "$T/endonly/profile/node0.script" || fail "endonly: no arg7/arg8"
"$PROF" report "$T/endonly" --quiet --json --no-html > "$T/endonly.json"
for q in .summary.total_faults '.nodes | map(.faults)' \
         '[.pages[] | {gpn, verdict, accesses: [.accesses[] | {node, write, offset, data_symbol, code_symbol, faults}]}]'; do
    [ "$(jq -cS "$q" "$T/tcg.json")" = "$(jq -cS "$q" "$T/endonly.json")" ] ||
        fail "fault_end alone differs in $q: $(jq -cS "$q" "$T/endonly.json") against $(jq -cS "$q" "$T/tcg.json")"
done

# --- Recorded without call chains (the sample line carries "ADDR ADDR_SYM IP SYM") and
# without the per-transfer probes: code from the inline IP, transfers from statsN.json.
mkrun "$T/flat" tcg
{
    printf '1000/11 10.000000100:           page-faults:     7f8002000000 [unknown] 7f0000001000 guest-0xffffffff81100010\n'
    sdt 12 10.000000200 fault_start "arg1=0 arg2=33554432 arg3=1 arg4=11 arg5=1"
    sdt 13 10.000000300 fault_end "arg1=0 arg2=33554432 arg3=1 arg4=50000 arg5=1 arg6=1"
    printf '1000/11 10.000000400:           page-faults:     7f8002000008 jiffies_x 55d000002000 address_space_rw\n'
    sdt 12 10.000000500 fault_start "arg1=0 arg2=33554440 arg3=0 arg4=11 arg5=1"
    sdt 13 10.000000600 fault_end "arg1=0 arg2=33554432 arg3=0 arg4=50000 arg5=1 arg6=1"
    echo "# dsmvm-prof end"
} > "$T/flat/profile/node0.script"
{
    printf '1000/21 10.000001000:           page-faults:     7f9002001000 [unknown]\n'
    sdt 22 10.000001100 fault_start "arg1=0 arg2=33558528 arg3=0 arg4=21 arg5=1"
    sdt 23 10.000001200 fault_end "arg1=0 arg2=33558528 arg3=0 arg4=50000 arg5=1 arg6=0"
    echo "# dsmvm-prof end"
} > "$T/flat/profile/node1.script"
echo '{"node": 0, "pages_sent": 5, "pages_received": 7, "wu_updates": 3}' > "$T/flat/stats0.json"
"$PROF" report "$T/flat" --quiet --json --no-html > "$T/flat.json"
jq -e '.summary.total_faults == 3 and .nodes[0].pages_received == 7 and
       .nodes[0].pages_sent == 5 and .nodes[1].pages_received == 0' "$T/flat.json" > /dev/null ||
    fail "totals from statsN.json: $(jq -c .nodes "$T/flat.json")"
jq -e '([.pages[].accesses[] | select(.code_symbol == "tick_do_update_jiffies64+0x10")] | length == 1)
       and ([.pages[].accesses[] | select(.code_symbol == "qemu:address_space_rw")] | length == 1)' \
    "$T/flat.json" > /dev/null || fail "code without call chains: $(jq -c '[.pages[].accesses[]]' "$T/flat.json")"

# --- KVM: kvm:kvm_page_fault (guest RIP, full GPA, write bit) on the vCPU thread.
mkrun "$T/kvm" kvm
{
    printf '1000/31 20.000000100: kvm:kvm_page_fault: vcpu 0 rip 0xffffffff81100020 address 0x0000000002000008 error_code 0x182\n'
    sdt 32 20.000000200 fault_start "arg1=0 arg2=33554440 arg3=1 arg4=31 arg5=1"
    sdt 33 20.000000300 fault_end "arg1=0 arg2=33554432 arg3=1 arg4=40000 arg5=0 arg6=0"
    echo "# dsmvm-prof end"
} > "$T/kvm/profile/node0.script"
{
    printf '1000/41 20.000001100: kvm:kvm_page_fault: vcpu 1 rip 0xffffffff81100404 address 0x0000000002000000 error_code 0x181\n'
    sdt 42 20.000001200 fault_start "arg1=0 arg2=33554432 arg3=0 arg4=41 arg5=1"
    sdt 43 20.000001300 fault_end "arg1=0 arg2=33554432 arg3=0 arg4=40000 arg5=1 arg6=0"
    echo "# dsmvm-prof end"
} > "$T/kvm/profile/node1.script"
"$PROF" report "$T/kvm" --quiet --json --no-html > "$T/kvm.json"
jq -e '.pages[0].gpn == 8192 and ([.pages[0].accesses[] | select(.node == 0 and .write and
       .offset == 8 and .code_symbol == "tick_do_update_jiffies64+0x20")] | length == 1) and
       ([.pages[0].accesses[] | select(.node == 1 and (.write | not) and
       .code_symbol == "do_timer+0x4")] | length == 1)' "$T/kvm.json" > /dev/null ||
    fail "KVM attribution: $(jq -c .pages "$T/kvm.json")"

# --- suggest: the hot kernel variables that share their page, in hot-symbols.list format.
# Each page below is written by both nodes in turn (cross-node writes); its System.map has
# .data, .bss and a per-CPU section with their markers.
mkdir -p "$T/sug/profile"
cat > "$T/sug/profile/System.map" <<'MAP'
0000000000000000 A some_absolute
ffffffff81000000 T _text
ffffffff81100000 T hot_fn
ffffffff81100800 T other_fn
ffffffff81f00000 d ro_var
ffffffff81f00100 d ro_other
ffffffff81fff000 D _sdata
ffffffff82000000 D hot_counter
ffffffff82000040 d cold_neighbour
ffffffff82000080 d count.1
ffffffff82001000 D lonely
ffffffff82002000 D big_table
ffffffff82005000 d weird$name
ffffffff82005040 d small_b
ffffffff82006000 D _edata
ffffffff82007000 D __per_cpu_start
ffffffff82007000 D cpu_var
ffffffff82007040 D cpu_other
ffffffff82008000 D __per_cpu_end
ffffffff82009000 B __bss_start
ffffffff82009000 b bss_hot
ffffffff82009100 b bss_cold
ffffffff8200a000 B __bss_stop
ffffffff83000000 B _end
MAP
sha=$(sha256sum "$T/sug/profile/System.map" | cut -d' ' -f1)
printf '{"format": 1, "accelerator": "kvm", "mem_mib": 512, "nodes": 2, "system_map_sha256": "%s"}\n' \
    "$sha" > "$T/sug/profile/meta.json"
tick=0
writes() {  # GPA COUNT: COUNT writes at GPA, by node 0 and node 1 in turn (KVM records)
    local i n
    for ((i = 0; i < $2; i++)); do
        n=$(( tick % 2 )); tick=$(( tick + 1 ))
        {
            printf '1000/%d 30.%09d: kvm:kvm_page_fault: vcpu %d rip 0xffffffff81100010 address 0x%016x error_code 0x182\n' \
                $(( 31 + 10 * n )) $(( tick * 1000 )) "$n" "$1"
            sdt $(( 32 + 10 * n )) "30.$(printf %09d $(( tick * 1000 + 100 )))" fault_start \
                "arg1=0 arg2=$(( $1 )) arg3=1 arg4=$(( 31 + 10 * n )) arg5=1"
            sdt $(( 33 + 10 * n )) "30.$(printf %09d $(( tick * 1000 + 200 )))" fault_end \
                "arg1=0 arg2=$(( $1 & ~4095 )) arg3=1 arg4=40000 arg5=1 arg6=$(( 1 - n ))"
        } >> "$T/sug/profile/node$n.script"
    done
}
writes 0x2000000 10     # hot_counter: listed, shares its page
writes 0x2000088 6      # count.1 (a static local's name): listed
writes 0x2000040 1      # cold_neighbour: 1 of the page's 17 faults, under 10 %
writes 0x2001010 8      # lonely: alone on its page
writes 0x2002010 8      # big_table: 12 KiB
writes 0x2005008 8      # weird$name: not a plain name
writes 0x2007000 8      # cpu_var: per-CPU
writes 0x2009010 8      # bss_hot: listed (.bss)
writes 0x1100010 8      # hot_fn: code
writes 0x1f00010 8      # ro_var: outside .data and .bss
echo "# dsmvm-prof end" >> "$T/sug/profile/node0.script"
echo "# dsmvm-prof end" >> "$T/sug/profile/node1.script"
"$PROF" suggest "$T/sug" --quiet > "$T/sug.list"
cat "$T/sug.list"
listed() { grep -v '^#' "$1" | awk 'NF { print $1 }'; }
[ "$(listed "$T/sug.list" | tr '\n' ' ')" = "hot_counter bss_hot count.1 " ] ||
    fail "suggest lists '$(listed "$T/sug.list" | tr '\n' ' ')', expected hot_counter bss_hot count.1"
grep -Eq '^hot_counter +10 +0x2000 +2 symbols \(cold_neighbour, count\.1\)$' "$T/sug.list" ||
    fail "suggest: hot_counter's line: $(grep '^hot_counter' "$T/sug.list")"
for why in "lonely .*already alone on its page" "big_table .*12288 bytes, larger than a page" \
           "weird\\\$name .*not \[A-Za-z0-9_.\]+" "cpu_var .*per-CPU" "hot_fn .*type T" \
           "ro_var .*outside .data and .bss"; do
    grep -q "^# not listed: $why" "$T/sug.list" || fail "suggest: no comment '# not listed: $why'"
done
# The list format: every line a comment, blank, or a System.map symbol first; 100 columns.
while read -r name _; do
    [ -z "$name" ] || [ "${name#\#}" != "$name" ] ||
        grep -Eq " [dDbB] $name\$" "$T/sug/profile/System.map" ||
        fail "suggest: '$name' is not a data symbol of the System.map"
done < "$T/sug.list"
awk 'length > 100 { print "line " NR " has " length " columns"; bad = 1 } END { exit bad }' \
    "$T/sug.list" || fail "suggest output wider than 100 columns"
"$PROF" suggest "$T/sug" --quiet --min-share 1 | listed /dev/stdin | grep -qx cold_neighbour ||
    fail "suggest --min-share 1 does not list cold_neighbour"
"$PROF" suggest "$T/sug" --quiet --top 1 --min-share 100 > "$T/none.list"
grep -q '^# no symbol qualifies' "$T/none.list" && [ -z "$(listed "$T/none.list")" ] ||
    fail "suggest --top 1 --min-share 100: $(cat "$T/none.list")"
"$PROF" suggest "$T/sug" --quiet --top 1 | listed /dev/stdin | grep -qx hot_counter ||
    fail "suggest --top 1 does not list the hottest page's variable"
# The jiffies page of the small TCG run: jiffies_64 (or its alias) shares it with
# tick_next_period.
"$PROF" suggest "$T/tcg" --quiet | listed /dev/stdin | grep -Eqx 'jiffies(_64)?' ||
    fail "suggest on the TCG run: $("$PROF" suggest "$T/tcg" --quiet)"

# --- --window: faults from 1.5 us after each node's first one (node 0: 3 of 4, node 1: 2 of 4)
"$PROF" report "$T/tcg" --quiet --json --no-html --window 0.0000015 > "$T/win.json"
jq -e '.summary.total_faults == 5 and .nodes[0].faults == 3 and .nodes[1].faults == 2 and
       .window_s == [0.0000015, null]' "$T/win.json" > /dev/null ||
    fail "--window: $(jq -c '[.summary.total_faults, .nodes, .window_s]' "$T/win.json")"

# --- compare: runs A and B side by side
"$PROF" compare "$T/tcg" "$T/kvm" --quiet --json --no-html > "$T/cmp.json"
jq -e '.watched.a_faults == 4 and .watched.b_faults == 2' "$T/cmp.json" > /dev/null ||
    fail "compare watched page: $(jq -c .watched "$T/cmp.json")"

# --- bad input: each a clear error naming the problem, exit 1, no crash.
expect_error() {    # pattern command...
    local pat=$1; shift
    set +e; "$@" > "$T/out" 2> "$T/err"; rc=$?; set -e
    [ "$rc" -eq 1 ] || fail "$* exited $rc (want 1): $(cat "$T/err")"
    grep -q -- "$pat" "$T/err" || fail "$*: error '$(cat "$T/err")' does not say '$pat'"
    echo "ok: $(cat "$T/err")"
}
mkdir -p "$T/empty"
expect_error "has no profile data" "$PROF" report "$T/empty" --quiet
cp -r "$T/tcg" "$T/trunc"
head -n 5 "$T/tcg/profile/node1.script" > "$T/trunc/profile/node1.script"
expect_error "node1.script: ends without its trailer" "$PROF" report "$T/trunc" --quiet --no-html
printf 'ffffffff81000000 T _text\nffffffff81000100 T other_fn\nffffffff83000000 B _end\n' > "$T/other.map"
expect_error "System.map of another kernel" "$PROF" report "$T/tcg" --quiet --no-html \
    --system-map "$T/other.map"
printf 'this is not a map\n' > "$T/garbage.map"
expect_error "not a System.map" "$PROF" report "$T/tcg" --quiet --no-html --system-map "$T/garbage.map"
cp -r "$T/tcg" "$T/badperf"
# A perf.data header whose samples run past the end of the file.
python3 - "$T/badperf/profile/node0.perf.data" <<'PY'
import struct, sys
hdr = b"PERFILE2" + struct.pack("<QQ", 104, 136) + struct.pack("<6Q", 104, 136, 240, 900000, 0, 0)
hdr += struct.pack("<4Q", 0, 0, 0, 0)
open(sys.argv[1], "wb").write(hdr + b"\0" * 4000)
PY
expect_error "node0.perf.data is truncated" "$PROF" report "$T/badperf" --quiet --no-html
sed -i "s/arg6=1/arg6=7/" "$T/badperf/profile/node0.script"; rm "$T/badperf/profile/node0.perf.data"
expect_error "fault_end names node 7 of 2" "$PROF" report "$T/badperf" --quiet --no-html
expect_error "has no profile data" "$PROF" suggest "$T/empty" --quiet
expect_error "System.map of another kernel" "$PROF" suggest "$T/tcg" --quiet --system-map "$T/other.map"
expect_error "not a System.map" "$PROF" suggest "$T/tcg" --quiet --system-map "$T/garbage.map"
cp -r "$T/tcg" "$T/nomap"; rm "$T/nomap/profile/System.map"
expect_error "suggest needs the guest kernel's System.map" "$PROF" suggest "$T/nomap" --quiet
expect_error "percentage from 0 to 100" "$PROF" suggest "$T/tcg" --quiet --min-share 120
expect_error "sort takes" "$PROF" report "$T/tcg" --quiet --no-html --sort nonsense
expect_error "takes FROM or FROM:TO" "$PROF" report "$T/tcg" --quiet --no-html --window 5:3
expect_error "no fault in --window 100:" "$PROF" report "$T/tcg" --quiet --no-html --window 100
# Guest RAM in two DSM regions (one per guest NUMA node, 256 MiB each): a probe's region 1
# offset 0x2000000 is guest-physical 0x12000000 (GPN 0x12000); a region the run lacks and
# sizes that do not add up to the RAM are refused.
cp -r "$T/tcg" "$T/numa"
sed -i 's/"mem_mib": 512,/"mem_mib": 512, "region_mib": "256 256",/' "$T/numa/profile/meta.json"
sed -i 's/arg1=0 arg2=33554432 /arg1=1 arg2=33554432 /' "$T/numa/profile/node0.script"
n=$("$PROF" report "$T/numa" --quiet --no-html --json | jq '[.pages[] | select(.gpn == 73728) | .faults] | add')
[ "$n" = 2 ] || fail "region 1 offset 0x2000000: $n faults on GPN 0x12000, expected 2"
cp -r "$T/numa" "$T/numa-bad"
sed -i 's/arg1=1 arg2=33554432 /arg1=2 arg2=33554432 /' "$T/numa-bad/profile/node0.script"
expect_error "region 2 (the run's guest RAM has 2)" "$PROF" report "$T/numa-bad" --quiet --no-html
sed -i 's/"region_mib": "256 256"/"region_mib": "256 200"/' "$T/numa/profile/meta.json"
expect_error "adds up to 456 MiB, not mem_mib 512" "$PROF" report "$T/numa" --quiet --no-html
# HTML and plots from the same data render in headless Chromium.
"$PROF" report "$T/tcg" --quiet --out "$T/html" > /dev/null
for f in faults-per-group latency heatmap; do
    [ -s "$T/html/$f.svg" ] && [ -s "$T/html/$f.png" ] || fail "plot $f.svg/.png missing"
done
if command -v chromium > /dev/null; then
    bash "$ROOT/tests/integration/lib-prof-html.sh" "$T/html/report.html" 3 || fail "HTML rendering"
fi
echo "prof-parse: all checks passed"
TEST
