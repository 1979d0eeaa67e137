title="fault path, 2x1 tuned boot: in-QEMU fault latency against the dsm-bench floor; cost per remote fault"
workload=hello args=
timeout=300
baseline=floor
configs=("floor|dsm-bench"
         "latency|--nodes 2 --variant tuned"
         "counts|--nodes 2 --variant tuned")
# per config: the latency runs record the probe, the count runs run under perf stat
probe_latency=fault-latency
probe_counts=perf-stat
metrics="fault_lat_p50_us fault_lat_p90_us fault_lat_p99_us floor_us dsm_bench_read_us msgs_per_remote_fault syscalls_per_remote_fault ctxsw_per_remote_fault dsm_faults_remote"
ratios="fault_lat_p50_us:floor_us fault_lat_p90_us:floor_us fault_lat_p99_us:floor_us"
