// Logs and retention: how much each log type and service sends, per day, how long each log type is kept
// (from tracklog.yaml's log_types) and the oldest record Loki still holds of each.
local p = import 'lib/panels.libsonnet';
local q = import 'lib/queries.libsonnet';

{
  local c = $._config,
  local streams = q.logSel(c),
  local logTypes = std.objectFields(c.log_types),
  local byTypeAndService = '%s, %s' % [c.labels.logType, c.labels.service],

  grafanaDashboards+:: {
    'logs-retention.json': {
      title: 'Tracklog / Logs and retention',
      description: 'Log volume by type and service, daily totals, configured retention and the oldest data held.',
      panels: p.grid([
        p.row.new('Volume'),
        p.timeseries.new('Ingest volume by log type and service', [
          p.loki(c, q.logBytes(c, streams, byTypeAndService, '$__interval'), '{{log_type}} {{service}}', logTypes=logTypes),
        ], 'bytes')
        + p.withBars() + p.withStacking(),
        [
          p.timeseries.new('Lines per day by log type', [
            p.loki(c, q.logLines(c, streams, c.labels.logType, '1d'), '{{log_type}}', logTypes=logTypes),
          ])
          + p.withInterval('1d') + p.withBars() + p.withStacking(),
          p.timeseries.new('Bytes per day by log type', [
            p.loki(c, q.logBytes(c, streams, c.labels.logType, '1d'), '{{log_type}}', logTypes=logTypes),
          ], 'bytes')
          + p.withInterval('1d') + p.withBars() + p.withStacking(),
          p.timeseries.new('Bytes received by Loki per day (all tenants)', [
            p.prometheus(c, q.lokiReceivedPerDay(c, 'bytes'), 'bytes'),
            p.prometheus(c, q.lokiReceivedPerDay(c, 'lines'), 'lines'),
          ], 'bytes')
          + p.withInterval('1d') + p.withBars()
          + { fieldConfig+: { overrides+: [{
            matcher: { id: 'byName', options: 'lines' },
            properties: [{ id: 'unit', value: 'short' }],
          }] } },
        ],
        p.row.new('Retention'),
        p.table.new('Configured retention per log type', [
          p.prometheus(c, q.retentionDays(c), instant=true, format='table'),
        ], 'd')
        + p.withDescription('From log_types in tracklog.yaml; the value is the retention in days.')
        + p.withHeight(6),
        p.table.new('Retention rules (Loki retention_stream)', [
          p.prometheus(c, q.retentionRules(c), instant=true, format='table'),
        ], 'd')
        + p.withDescription('Each rule as `tracklog retention render` writes it for Loki: the highest priority '
                            + 'matching a stream wins. Loki 2.3+ applies them; `tracklog retention status` says '
                            + 'whether the running Loki does. The value is the retention in days.')
        + p.withHeight(8),
        [
          p.stat.new('Oldest %s record held' % t, [
            p.loki(c, '{%s="%s"}' % [c.labels.logType, t], maxLines=1, logTypes=[t]) { direction: 'forward' },
          ], 'dateTimeFromNow')
          + p.withTimeFrom(c.log_types[t].retention)
          + p.withOptions({ reduceOptions: { calcs: ['firstNotNull'], fields: '/^Time$/', values: false } })
          + p.withDescription('The first record within the configured retention (%s).' % c.log_types[t].retention)
          for t in logTypes
        ],
      ]),
    },
  },
}
