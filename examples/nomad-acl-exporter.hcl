# Minimal Nomad ACL policy for the fleetcast exporter: it reads periodic jobs
# (their cron specs and resource asks become fleetcast_scheduled_demand) and
# changes nothing.
#   nomad acl policy apply -description "fleetcast exporter" fleetcast-exporter examples/nomad-acl-exporter.hcl
#   nomad acl token create -name fleetcast-exporter -policy fleetcast-exporter
# list-jobs: find the periodic jobs of each namespace the config names.
# read-job:  read each one's periodic block, task groups and resources.
namespace "*" {
  capabilities = ["list-jobs", "read-job"]
}
