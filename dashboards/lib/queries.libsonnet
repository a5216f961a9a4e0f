// LogQL and PromQL as functions of the config `c`, shared by dashboards and alerts.
//
// `sel` arguments are matcher lists pasted inside `{}` (e.g. 'job="tracklog", service="auth"'); the
// dashboard selectors below add the env/service template variables, the alert selectors don't. Metric
// names and JSON field names are the exporters' (exporters/metrics.py, exporters/schema.py); Loki's `json`
// parser turns the dotted field names into labels with '_' (`auth.outcome` -> `auth_outcome`).
// Everything here must parse in LogQL of Loki 2.2 (no vector(), offset, on()/ignoring(), first_over_time).
local join(parts) = std.join(', ', std.filter(function(p) p != '', parts));

{
  // ----------------------------------------------------------------------------------------------
  // Selectors.
  // ----------------------------------------------------------------------------------------------

  // The services' metrics, filtered by the dashboard's env and service variables.
  promSel(c, extra=[]):: join([
    c.servicesSelector,
    '%s=~"$env"' % c.labels.env,
    '%s=~"$service"' % c.labels.service,
  ] + extra),
  // The services' metrics of one service, for alerts.
  promServiceSel(c, service, extra=[]):: join([c.servicesSelector, '%s="%s"' % [c.labels.service, service]] + extra),
  // Log streams, filtered by the dashboard's env and service variables (the service variable's "All" is
  // '.+', so the selector always has a matcher Loki accepts).
  logSel(c, extra=[]):: '{%s}' % join([
    '%s=~"$env"' % c.labels.env,
    '%s=~"$service"' % c.labels.service,
  ] + extra),
  // Log streams of one log type, for alerts (no variables).
  logTypeSel(c, logType, extra=[]):: '{%s}' % join(['%s="%s"' % [c.labels.logType, logType]] + extra),
  // The JSON parser, dropping lines it could not parse so that metric queries never fail on them.
  json:: '| json | __error__=""',

  // ----------------------------------------------------------------------------------------------
  // PromQL: HTTP, errors, database.
  // ----------------------------------------------------------------------------------------------

  requestRate(c, sel, by='service', window='$__rate_interval')::
    'sum by (%s) (rate(http_server_requests_total{%s}[%s]))' % [by, sel, window],
  // 5xx responses as a percentage of all responses.
  errorRatePercent(c, sel, by='service', window='$__rate_interval')::
    '100 * sum by (%(by)s) (rate(http_server_requests_total{%(sel)s, status_class="5xx"}[%(w)s]))'
    % { by: by, sel: sel, w: window }
    + ' / sum by (%(by)s) (rate(http_server_requests_total{%(sel)s}[%(w)s]))' % { by: by, sel: sel, w: window },
  latencyQuantile(c, quantile, sel, by='route', window='$__rate_interval')::
    'histogram_quantile(%s, sum by (%s, le) (rate(http_server_request_duration_seconds_bucket{%s}[%s])))'
    % [c.num(quantile), by, sel, window],
  errorsByType(c, sel, window='$__rate_interval')::
    'sum by (service, error_type) (rate(app_errors_total{%s}[%s]))' % [sel, window],
  dbLatencyQuantile(c, quantile, sel, window='$__rate_interval')::
    'histogram_quantile(%s, sum by (service, operation, le) (rate(db_query_duration_seconds_bucket{%s}[%s])))'
    % [c.num(quantile), sel, window],
  dbTimeoutsPerMinute(c, sel, window='$__rate_interval', by='service, operation')::
    '60 * sum by (%s) (rate(db_query_timeouts_total{%s}[%s]))' % [by, sel, window],

  // ----------------------------------------------------------------------------------------------
  // PromQL: security, audit, lifecycle, resources, scraping, exporters, Loki ingest.
  // ----------------------------------------------------------------------------------------------

  loginAttempts(c, sel, window='$__rate_interval')::
    'sum by (outcome) (rate(auth_login_attempts_total{%s}[%s]))' % [sel, window],
  failedLoginsByReason(c, sel, window='$__rate_interval')::
    'sum by (reason) (rate(auth_login_attempts_total{%s, outcome="failure"}[%s]))' % [sel, window],
  permissionChanges(c, sel, window='$__rate_interval')::
    'sum by (service, role) (increase(audit_permission_changes_total{%s}[%s]))' % [sel, window],
  lifecycleEvents(c, sel, window='$__rate_interval')::
    'sum by (service, phase) (increase(service_lifecycle_events_total{%s}[%s]))' % [sel, window],
  // A resource gauge per service: cpu_utilization_ratio, memory_bytes, open_files or threads.
  resource(c, gauge, sel):: 'max by (service) (service_%s{%s})' % [gauge, sel],
  scrapeHealth(c):: 'min by (job, instance) (up)',
  exporterDropped(c, sel, window='$__rate_interval', by='service, client, reason')::
    'sum by (%s) (increase(tracklog_loki_records_dropped_total{%s}[%s]))' % [by, sel, window],
  exporterSent(c, sel, window='$__rate_interval')::
    'sum by (service, client) (rate(tracklog_loki_records_sent_total{%s}[%s]))' % [sel, window],
  exporterQueueDepth(c, sel):: 'max by (service, client) (tracklog_loki_queue_depth{%s})' % sel,
  lokiReceivedPerDay(c, metric):: 'sum(increase(loki_distributor_%s_received_total{%s}[1d]))' % [metric, c.lokiSelector],
  // Log records per second of one service, 0 when the service has no series at all (so that an alert on
  // it also fires for a service that disappeared).
  serviceLogRate(c, service, window, by='')::
    'sum%s(rate(log_records_total{%s}[%s])) or vector(0)'
    % [if by == '' then '' else ' by (%s) ' % by, $.promServiceSel(c, service), window],
  // The configured retention per log type, as a constant vector with labels log_type and retention
  // (value: days), so that a table can show the config through the Prometheus datasource.
  retentionDays(c):: std.join(' or ', [
    'label_replace(label_replace(vector(%d), "log_type", "%s", "", ""), "retention", "%s", "", "")'
    % [c.seconds(c.log_types[t].retention) / 86400, t, c.log_types[t].retention]
    for t in std.objectFields(c.log_types)
  ]),
  // Every retention rule (per log type, per service, per stream selector; render.py passes them as Loki gets
  // them) as a constant vector with labels log_type, selector, priority and retention (value: days).
  retentionRules(c):: std.join(' or ', [
    std.foldl(
      function(expr, label) 'label_replace(%s, "%s", "%s", "", "")' % [expr, label[0], $.promEscape(label[1])],
      [['log_type', r.log_type], ['selector', r.selector], ['priority', std.toString(r.priority)],
       ['retention', r.retention]],
      'vector(%s)' % std.toString(r.days)
    )
    for r in c.retention_rules
  ]),
  // A string inside a PromQL double-quoted literal (label_replace's replacement is also a regex template: $ doubled).
  promEscape(s):: std.strReplace(std.strReplace(std.strReplace(s, '\\', '\\\\'), '"', '\\"'), '$', '$$'),

  // ----------------------------------------------------------------------------------------------
  // LogQL.
  // ----------------------------------------------------------------------------------------------

  // Login attempts (security log) with outcome `outcome`, counted by `by` over `window`.
  logins(c, stream, outcome, by, window)::
    'sum by (%s) (count_over_time(%s %s | event_name="auth.login" | auth_outcome="%s" [%s]))'
    % [by, stream, $.json, outcome, window],
  topLogins(c, stream, outcome, by, window):: 'topk(%d, %s)' % [c.topN, $.logins(c, stream, outcome, by, window)],
  // Users with at least `n` failed logins and a successful one within `window`.
  successAfterFailures(c, stream, n, window)::
    '%s >= %s and %s' % [
      $.logins(c, stream, 'failure', 'user_id', window),
      c.num(n),
      $.logins(c, stream, 'success', 'user_id', window),
    ],
  // Successful logins from a country outside security.allowed_countries.
  loginsOutsideCountries(c, stream, window, by='client_geo_country_iso_code, user_id, client_address')::
    'sum by (%s) (count_over_time(%s %s | event_name="auth.login"' % [by, stream, $.json]
    + ' | auth_outcome="success" | client_geo_country_iso_code != "" | client_geo_country_iso_code !~ "%s" [%s]))'
      % [c.alternatives(c.security.allowed_countries), window],
  // Permission changes of admin roles (audit log), by who changed whose role.
  adminPermissionChanges(c, stream, window, by='auth_role, audit_actor, audit_target')::
    'sum by (%s) (count_over_time(%s %s | event_name="permission.change"' % [by, stream, $.json]
    + ' | auth_role=~"%s" [%s]))' % [c.alternatives(c.security.admin_roles), window],
  // HTTP 403 responses (application log) by service and route.
  accessViolations(c, stream, window)::
    'sum by (%s, http_route) (count_over_time(%s %s | http_response_status_code="403" [%s]))'
    % [c.labels.service, stream, $.json, window],
  // Errors (level error/critical) by the function that raised them.
  errorsByFunction(c, stream, window)::
    'topk(%d, sum by (%s, code_function) (count_over_time(%s %s | code_function != "" [%s])))'
    % [c.topN, c.labels.service, stream, $.json, window],
  // Served requests by the hour of day (UTC) of their timestamp field.
  requestsByHourOfDay(c, stream, window)::
    'sum by (hour) (count_over_time(%s %s | event_name="http.request"' % [stream, $.json]
    + ' | label_format hour=`{{ regexReplaceAll "^.{11}([0-9][0-9]).*$" .timestamp "${1}" }}` [%s]))' % window,
  // The tracking page in users' browsers (Grafana Faro through tracklog's collector): its records carry
  // faro.session; its metrics are the collector's (exporters/integrations/faro/metrics.py) and ui_actions_total.
  uiActionsPerMinute(c, sel):: 'sum by (action) (rate(ui_actions_total{%s}[$__rate_interval])) * 60' % sel,
  webVitalP75(c, sel)::
    'histogram_quantile(0.75, sum by (vital, le) (rate(browser_web_vital_seconds_bucket{%s}[$__rate_interval])))' % sel,
  pageTimingP75(c, sel)::
    'histogram_quantile(0.75, sum by (name, le) (rate(browser_timing_seconds_bucket{%s}[$__rate_interval])))' % sel,
  browserPayloads(c, sel):: 'sum by (outcome) (rate(browser_collector_payloads_total{%s}[$__rate_interval]))' % sel,
  browserRecords(c, extra=[]):: $.logSel(c, extra) + ' |= "faro.session"',
  browserSessions(c, window)::
    'count(sum by (faro_session) (count_over_time(%s | json | __error__="" [%s])))' % [$.browserRecords(c), window],
  browserErrors(c):: $.browserRecords(c, ['%s="application"' % c.labels.logType,
                                          '%s=~"%s"' % [c.labels.level, std.join('|', c.errorLevels)]]),
  browserErrorsPerMinute(c):: 'sum by (service) (count_over_time(%s [1m]))' % $.browserErrors(c),
  // Bytes and lines of logs by labels `by`.
  logBytes(c, stream, by, window):: 'sum by (%s) (bytes_over_time(%s [%s]))' % [by, stream, window],
  logLines(c, stream, by, window):: 'sum by (%s) (count_over_time(%s [%s]))' % [by, stream, window],
  // Records of one trace, across services.
  traceRecords(c):: '{%s=~"$env", %s=~".+"} |= "$trace_id" %s | trace_id="$trace_id"'
                    % [c.labels.env, c.labels.service, $.json],
}
