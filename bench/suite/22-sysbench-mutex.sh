title="sysbench mutex, seconds for a fixed number of locks (lower is better)"
workload=sysbench-test args=mutex,0,--mutex-locks=20000,--mutex-loops=100
timeout=400
baseline=1x2
configs=("1x2|--nodes 1 --cpus 2 --variant tuned"
         "2x1|--nodes 2 --variant tuned")
metrics="sysbench_time_s dsm_faults_remote"
