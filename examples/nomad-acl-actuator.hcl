# Minimal Nomad ACL policy for the fleetcast actuator.
#   nomad acl policy apply -description "fleetcast actuator" fleetcast-actuator examples/nomad-acl-actuator.hcl
#   nomad acl token create -name fleetcast-actuator -policy fleetcast-actuator
# scale-job: read scale status and scaling events, scale task groups.
# read-job:  job specs (scaling blocks, meta, constraints) and allocations.
#   The room a pool has and a pool's state come from one list of every
#   namespace's allocations (GET /v1/allocations?namespace=*); a namespace
#   without read-job is left out of it silently, and its allocations would
#   count as free room: keep read-job on every namespace that runs on the
#   pools the actuator sizes.
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
# nodes of a task group's pool (a scale-out asks for no more than they can
# place) and the allocations of the node a migration empties.
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
