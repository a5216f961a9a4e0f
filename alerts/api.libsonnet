// Alerts on the tracking API and the database: error rate, p95 latency, query timeouts (PromQL).
local q = import '../dashboards/lib/queries.libsonnet';
local rule = import 'rule.libsonnet';

{
  local c = $._config,
  local t = c.thresholds,
  local api = q.promServiceSel(c, c.apiService),
  local window = c.alertRateWindow,

  alertGroups+:: {
    'tracklog-api': {
      datasource: 'prometheus',
      rules: [
        rule.new(c,
                 'TrackingApiHighErrorRate',
                 'prometheus',
                 q.errorRatePercent(c, api, c.alertBy('service'), window),
                 '>',
                 t.api_error_rate_percent)
        + rule.withFor(t.api_error_rate_for)
        + rule.withSeverity('critical')
        + rule.withTeam(c.teamOf(c.apiService))
        + rule.withSummary('{{ $labels.service }}: more than %s%% of requests fail with 5xx' % c.num(t.api_error_rate_percent))
        + rule.withRunbook(|||
          The share of 5xx responses of %(service)s has stayed above %(threshold)s%% for %(for)s.
          1. Open the API health dashboard: which routes, since when, which error types and code.function.
          2. Follow the error panel's data link to the error logs; look for a deploy (Start-ups on System).
          3. If the database is slow or timing out, see the Database row and the DB timeout alert.
          4. Roll back the last deploy if it lines up; otherwise page the owning team.
        ||| % { service: c.apiService, threshold: c.num(t.api_error_rate_percent), 'for': t.api_error_rate_for })
        + rule.withDashboard('api-health', 'Error rate (5xx %)'),

        rule.new(c,
                 'TrackingApiHighLatency',
                 'prometheus',
                 q.latencyQuantile(c, 0.95, api, c.alertBy('service, route'), window),
                 '>',
                 t.api_p95_latency_seconds)
        + rule.withFor(t.api_p95_latency_for)
        + rule.withTeam(c.teamOf(c.apiService))
        + rule.withSummary('{{ $labels.service }} {{ $labels.route }}: p95 latency above %ss' % c.num(t.api_p95_latency_seconds))
        + rule.withRunbook(|||
          The 95th percentile latency of a route of %(service)s has stayed above %(threshold)ss for %(for)s.
          1. On API health, compare p50/p95/p99 of the route: all slow (saturation) or a tail (a dependency)?
          2. Check DB p95 latency and timeouts, and CPU/memory of the service on System.
          3. Search the route's logs (data link) for slow queries and retries.
        ||| % { service: c.apiService, threshold: c.num(t.api_p95_latency_seconds), 'for': t.api_p95_latency_for })
        + rule.withDashboard('api-health', 'p95 latency by route'),

        rule.new(c,
                 'DatabaseTimeoutsSpiking',
                 'prometheus',
                 q.dbTimeoutsPerMinute(c, c.servicesSelector, window, c.alertBy('service, operation')),
                 '>',
                 t.db_timeouts_per_minute)
        + rule.withFor(t.db_timeouts_for)
        + rule.withTeam(c.platformTeam)
        + rule.withSummary('{{ $labels.service }}: more than %s %s queries per minute time out'
                           % [c.num(t.db_timeouts_per_minute), '{{ $labels.operation }}'])
        + rule.withRunbook(|||
          Database queries of one service and operation time out more than %(threshold)s times a minute.
          1. On API health (Database row), see which operations and since when.
          2. Check the database itself: locks, long-running queries, connections, disk.
          3. The DB slow log (service postgres, system log) shows the statements' fingerprints.
        ||| % { threshold: c.num(t.db_timeouts_per_minute) })
        + rule.withDashboard('api-health', 'DB timeouts per minute'),
      ],
    },
  },
}
