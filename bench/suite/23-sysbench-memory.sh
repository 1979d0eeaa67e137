title="sysbench memory, MiB/s written"
workload=sysbench-test args=memory,10
timeout=400
baseline=1x2
configs=("1x2|--nodes 1 --cpus 2 --variant tuned"
         "2x1|--nodes 2 --variant tuned")
metrics="sysbench_mib_per_s dsm_faults_remote"
