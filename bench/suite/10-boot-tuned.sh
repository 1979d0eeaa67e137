title="boot to userspace + power-off, tuned guest"
quick=1
workload=hello args=
timeout=300
baseline=1x2
configs=("1x2|--nodes 1 --cpus 2 --variant tuned"
         "2x1|--nodes 2 --variant tuned"
         "4x1|--nodes 4 --variant tuned|timeout=240")
quick_configs="1x2 2x1 4x1"
metrics="time_to_userspace_s total_time_s guest_uptime_at_userspace_s dsm_faults dsm_faults_remote dsm_invalidations"
