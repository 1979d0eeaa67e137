title="2 nodes x 1 vCPU, boot to userspace + power-off: tuned guest against stock"
workload=hello args=
timeout=300
baseline=stock
configs=("stock|--nodes 2 --variant stock"
         "tuned|--nodes 2 --variant tuned")
metrics="dsm_faults_remote dsm_faults dsm_invalidations time_to_userspace_s total_time_s"
