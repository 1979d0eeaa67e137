title="stress-ng --cpu, bogo ops/s (real time)"
workload=stress-cpu args=10
timeout=400
baseline=1x2
configs=("1x2|--nodes 1 --cpus 2 --variant tuned"
         "2x1|--nodes 2 --variant tuned")
metrics="stressng_bogo_ops_per_s dsm_faults_remote"
