"""tracklog provisioning: load tracklog.yaml, render, validate, plan and apply to Grafana and Loki."""
