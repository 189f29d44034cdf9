# Minimal Nomad ACL policy for the fleetcast actuator.
#   nomad acl policy apply -description "fleetcast actuator" fleetcast-actuator examples/nomad-acl-actuator.hcl
#   nomad acl token create -name fleetcast-actuator -policy fleetcast-actuator
# scale-job: read scale status and scaling events, scale task groups.
# read-job:  job specs (scaling blocks, meta, constraints) and allocations.
# alloc-lifecycle: stop allocations so Nomad reschedules them (migrate).
# variables: the leader lock (fleetcast/actuator/leader) and the actuator's
#   state (fleetcast/actuator/state/...: pool cooldowns, nodes waiting for
#   their eligibility back, escalation history), only under that path.
namespace "*" {
  capabilities = ["read-job", "scale-job", "alloc-lifecycle"]

  variables {
    path "fleetcast/actuator/*" {
      capabilities = ["read", "write", "list"]
    }
  }
}

# Node eligibility and drains (migrate and node-pool scale-in); reading the
# nodes of a task group's pool and their allocations (a scale-out asks for no
# more than they can place).
node {
  policy = "write"
}

# Node pools are read to list their nodes.
node_pool "*" {
  policy = "read"
}

# The server's version (GET /v1/agent/self) at start: leader election needs
# Nomad 1.7 (variable locks), the scale guard 1.8.2.
agent {
  policy = "read"
}
