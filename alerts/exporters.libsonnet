// Alerts on the logging pipeline itself (PromQL): exporters dropping records, and a service that stopped
// logging (one rule per service in tracklog.yaml, labelled with the service's team).
local q = import '../dashboards/lib/queries.libsonnet';
local rule = import 'rule.libsonnet';

{
  local c = $._config,
  local t = c.thresholds,
  local silentFor = '%dm' % t.silent_service_minutes,

  alertGroups+:: {
    'tracklog-pipeline': {
      datasource: 'prometheus',
      rules: [
        rule.new(c,
                 'ExporterDroppingRecords',
                 'prometheus',
                 q.exporterDropped(c, c.servicesSelector, t.exporter_dropped_window, c.alertBy('service, client, reason')),
                 '>=',
                 t.exporter_dropped_records)
        + rule.withWindow(t.exporter_dropped_window)
        + rule.withTeam(c.platformTeam)
        + rule.withSummary('{{ $labels.service }}: the Loki client {{ $labels.client }} dropped records ({{ $labels.reason }})')
        + rule.withRunbook(|||
          A tracklog exporter gave up on records within %(window)s; they are not in Loki.
          1. On System, see the reason (queue full, rejected by Loki, spool full ...) and the queue depth.
          2. Queue full or spool full: Loki is slow or unreachable from the service; check Loki and the network.
          3. Rejected: Loki refused the records (limits, too old, too large); see Loki's log for the reason.
        ||| % { window: t.exporter_dropped_window })
        + rule.withDashboard('system', 'Exporter records dropped by reason'),
      ] + [
        rule.new(c, 'ServiceStoppedLogging', 'prometheus', q.serviceLogRate(c, service, silentFor), '<=', 0)
        + rule.withKey('silent-' + service)
        + rule.withTitle('ServiceStoppedLogging %s' % service)
        + rule.withWindow(silentFor)
        + rule.withSeverity('critical')
        + rule.withTeam(c.teamOf(service))
        + rule.withLabels({ [c.labels.service]: service })
        + rule.withSummary('%s logged nothing for %d minutes' % [service, t.silent_service_minutes])
        + rule.withRunbook(|||
          %(service)s has not logged a record for %(minutes)d minutes (log_records_total flat or gone).
          1. Is it running? See Scrape health (up) and Start-ups on System.
          2. Running but silent: check its exporter (records dropped, queue depth) and its Loki handler setup.
        ||| % { service: service, minutes: t.silent_service_minutes })
        + rule.withDashboard('logs-retention', 'Ingest volume by log type and service')
        for service in c.serviceNames
      ],
    },
  },
}
