# fleetcast actuator on Nomad: the Alertmanager webhook that scales task
# groups and node pools and migrates allocations. See demo/README.md, "From
# the demo to a real cluster".
#
#   nomad var put nomad/jobs/fleetcast-actuator nomad_token=<secret id> webhook_token=<random>
#   nomad job run -var 'datacenters=["dc1"]' \
#     -var release_sha256=$(grep linux-amd64 SHA256SUMS | cut -d' ' -f1) \
#     examples/nomad/fleetcast-actuator.nomad.hcl
#
# The task fetches the release archive of `make dist` with an artifact block
# and checks its SHA-256 (var.release_sha256, from the release's SHA256SUMS).
#
# It starts in dry-run (var.dry_run): it decides and logs every action but
# changes nothing, until you read its audit log and run the job again with
# -var dry_run=false. The Nomad token (policy: examples/nomad-acl-actuator.hcl)
# and the webhook's bearer token come from the Nomad variable above, readable
# by this job only. Two replicas elect a leader by a lock on a Nomad variable;
# only the leader acts. Alertmanager lists both (see examples/alertmanager.yml).

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "fleetcast_version" {
  type        = string
  default     = "0.1.0"
  description = "The release to run: the archives and SHA256SUMS of `make dist`."
}

variable "release_url" {
  type        = string
  default     = "https://releases.example.com/fleetcast"
  description = "Where the archives of `make dist` are served (any URL Nomad's artifact block fetches: HTTP(S), S3, GCS, git)."
}

variable "release_sha256" {
  type        = string
  description = "SHA-256 of fleetcast-<version>.linux-<arch>.tar.gz, from the release's SHA256SUMS. No default: Nomad refuses an archive that does not match."
}

variable "arch" {
  type        = string
  default     = "amd64"
  description = "CPU architecture of the clients to run on (amd64 or arm64), as Nomad reports it in attr.cpu.arch."
}

variable "prometheus_service" {
  type    = string
  default = "prometheus"
}

variable "dry_run" {
  type        = bool
  default     = true
  description = "Decide and log, change nothing. Turn off once the audit log reads right."
}

job "fleetcast-actuator" {
  datacenters = var.datacenters
  type        = "service"

  group "actuator" {
    constraint {
      attribute = "${attr.cpu.arch}"
      value     = var.arch
    }

    count = 2

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "http" {
        static = 9811
      }
    }

    service {
      name     = "fleetcast-actuator"
      provider = "nomad"
      port     = "http"
      tags     = ["fleetcast", "metrics", "webhook"]

      check {
        name     = "ready"
        type     = "http"
        path     = "/-/ready"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 5
      interval = "10m"
      delay    = "15s"
      mode     = "delay"
    }

    task "actuator" {
      driver = "exec"

      # The release archive of `make dist`, checked against its SHA-256
      # before it is unpacked into the task's local/ directory.
      artifact {
        source      = "${var.release_url}/fleetcast-${var.fleetcast_version}.linux-${var.arch}.tar.gz"
        destination = "local"
        options {
          checksum = "sha256:${var.release_sha256}"
        }
      }

      config {
        command = "local/fleetcast-${var.fleetcast_version}.linux-${var.arch}/fleetcast"
        args = [
          "actuator",
          "--config.file=${NOMAD_TASK_DIR}/actuator.yml",
          "--web.listen-address=:${NOMAD_PORT_http}",
          "--log.format=json",
        ]
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/nomad-token"
        perms       = "0400"
        change_mode = "restart"
        data        = <<-EOT
          {{- with nomadVar "nomad/jobs/fleetcast-actuator" }}{{ .nomad_token }}{{ end -}}
        EOT
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/webhook-token"
        perms       = "0400"
        change_mode = "restart"
        data        = <<-EOT
          {{- with nomadVar "nomad/jobs/fleetcast-actuator" }}{{ .webhook_token }}{{ end -}}
        EOT
      }

      # The policies of examples/actuator.yml, with the addresses and secrets
      # this cluster provides. Edit per_alloc_capacity, bounds and the pool
      # target for your fleet before turning dry_run off.
      template {
        destination = "${NOMAD_TASK_DIR}/actuator.yml"
        change_mode = "restart"
        data        = <<-EOT
          global:
            dry_run: ${var.dry_run}
            max_actions_per_hour: 30
            emergency_stop_file: {{ env "NOMAD_ALLOC_DIR" }}/STOP
            webhook_bearer_token_file: {{ env "NOMAD_SECRETS_DIR" }}/webhook-token
            deployment_retry_for: 2m
          nomad:
            address: http://{{ env "attr.unique.network.ip-address" }}:4646
            token_file: {{ env "NOMAD_SECRETS_DIR" }}/nomad-token
          prometheus:
          {{- range nomadService "${var.prometheus_service}" }}
            url: http://{{ .Address }}:{{ .Port }}
          {{- break }}{{ end }}
            timeout: 10s
          leader:
            enabled: true
            variable_path: fleetcast/actuator/leader
            ttl: 15s
          policies:
            - name: task-group-scale-out
              match:
                alertname: [JobPredictedSaturation]
                labels: {action: scale_group, resource: cpu}
              action: scale_group
              scale_group:
                query: 'max(task_group:fleetcast_demand_peak:max{namespace="{{`{{.namespace}}`}}",job="{{`{{.job}}`}}",task_group="{{`{{.task_group}}`}}",resource="cpu"})'
                per_alloc_capacity: 500
                headroom: 0.2
                min: 2
                max: 30
                max_step: 4
                cooldown: 5m
                scale_in_cooldown: 30m
            - name: task-group-scale-in
              match:
                alertname: [JobPredictedSurplus]
                labels: {action: scale_group, resource: cpu}
              action: scale_group
              scale_group:
                query: 'max(task_group:fleetcast_demand_peak:max{namespace="{{`{{.namespace}}`}}",job="{{`{{.job}}`}}",task_group="{{`{{.task_group}}`}}",resource="cpu"})'
                per_alloc_capacity: 500
                headroom: 0.3
                min: 2
                max: 30
                max_step: 1
                cooldown: 5m
                scale_in_cooldown: 1h
            - name: escalate
              match:
                alertname: [AnomalyDespiteAction]
                labels: {action: escalate}
              action: escalate
              escalate:
                max_per_hour: 3
                ladder:
                  - {action: scale_group, step_factor: 2}
                  - {action: scale_group, step_factor: 2, bypass_cooldown: true}
                policies:
                  scale_group: task-group-scale-out
        EOT
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
