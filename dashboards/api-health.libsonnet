// API health: RED metrics per service and route, errors by type and by origin, the database, and when
// requests arrive. Metric panels link to the matching logs on the troubleshooting dashboard.
local p = import 'lib/panels.libsonnet';
local q = import 'lib/queries.libsonnet';

{
  local c = $._config,
  local t = c.thresholds,
  local sel = q.promSel(c),
  local logs = c.uid('troubleshooting'),
  local errorLogs = q.logSel(c, ['%s=~"%s"' % [c.labels.level, c.alternatives(c.errorLevels)]]),
  local toLogs(title, vars) = p.withLinks([p.logsLink(title, logs, vars)]),
  local serviceLogs = toLogs('Logs of ${__field.labels.service}', { service: '${__field.labels.service}' }),
  local serviceErrors = toLogs('Error logs of ${__field.labels.service}',
                               { service: '${__field.labels.service}', level: 'error' }),

  grafanaDashboards+:: {
    'api-health.json': {
      title: 'Tracklog / API health',
      description: 'Requests, errors and latency of the platform services, from their derived metrics and logs.',
      panels: p.grid([
        p.row.new('Requests'),
        [
          p.timeseries.new('Request rate', [p.prometheus(c, q.requestRate(c, sel), '{{service}}')], 'reqps')
          + serviceLogs,
          p.timeseries.new('Error rate (5xx %)', [p.prometheus(c, q.errorRatePercent(c, sel), '{{service}}')], 'percent')
          + p.withThreshold(t.api_error_rate_percent)
          + p.withDescription('Share of 5xx responses; the line is the alert threshold (thresholds.api_error_rate_percent).')
          + serviceErrors,
        ],
        [
          p.timeseries.new('p50 latency by route', [p.prometheus(c, q.latencyQuantile(c, 0.5, sel), '{{route}}')], 's')
          + toLogs('Logs of ${__field.labels.route}', { search: '${__field.labels.route}' }),
          p.timeseries.new('p95 latency by route', [p.prometheus(c, q.latencyQuantile(c, 0.95, sel), '{{route}}')], 's')
          + p.withThreshold(t.api_p95_latency_seconds)
          + toLogs('Logs of ${__field.labels.route}', { search: '${__field.labels.route}' }),
          p.timeseries.new('p99 latency by route', [p.prometheus(c, q.latencyQuantile(c, 0.99, sel), '{{route}}')], 's')
          + toLogs('Logs of ${__field.labels.route}', { search: '${__field.labels.route}' }),
        ],
        p.row.new('Errors'),
        [
          p.timeseries.new('Errors by type', [p.prometheus(c, q.errorsByType(c, sel), '{{service}} {{error_type}}')], 'ops')
          + toLogs('Logs of ${__field.labels.error_type}',
                   { service: '${__field.labels.service}', search: '${__field.labels.error_type}' }),
          p.timeseries.new('Errors by code.function (logs)', [
            p.loki(c, q.errorsByFunction(c, errorLogs, '$__interval'), '{{%s}} {{code_function}}' % c.labels.service),
          ])
          + p.withBars() + p.withStacking()
          + toLogs('Logs of ${__field.labels.code_function}',
                   { service: '${__field.labels.service}', search: '${__field.labels.code_function}' }),
        ],
        p.logs.new('Error logs', [
          p.loki(c, errorLogs, maxLines=c.logLimit),
        ]) + p.withHeight(10),
        p.row.new('Database'),
        [
          p.timeseries.new('DB p95 latency by operation', [
            p.prometheus(c, q.dbLatencyQuantile(c, 0.95, sel), '{{service}} {{operation}}'),
          ], 's'),
          p.timeseries.new('DB timeouts per minute', [
            p.prometheus(c, q.dbTimeoutsPerMinute(c, sel), '{{service}} {{operation}}'),
          ], 'short')
          + p.withThreshold(t.db_timeouts_per_minute)
          + toLogs('Logs of ${__field.labels.service}', { service: '${__field.labels.service}', search: 'timed%20out' }),
        ],
        p.row.new('Traffic'),
        p.barchart.new('Requests by hour of day (UTC)', [
          p.loki(c,
                 q.requestsByHourOfDay(c, q.logSel(c, ['%s="application"' % c.labels.logType]), '$__range'),
                 '{{hour}}',
                 instant=true,
                 logTypes=['application']),
        ], 'hour')
        + p.withDescription('Served requests in the selected time range, by the hour of day of their timestamp (UTC).'),
      ]),
    },
  },
}
