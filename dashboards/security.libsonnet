// Security: login attempts and failures by source, a success after a run of failures, logins from
// unexpected countries, permission changes, access violations, and the security log stream.
local p = import 'lib/panels.libsonnet';
local q = import 'lib/queries.libsonnet';

{
  local c = $._config,
  local t = c.thresholds,
  local sel = q.promSel(c),
  local security = q.logSel(c, ['%s="security"' % c.labels.logType]),
  local audit = q.logSel(c, ['%s="audit"' % c.labels.logType]),
  local application = q.logSel(c, ['%s="application"' % c.labels.logType]),
  local logs = c.uid('troubleshooting'),

  grafanaDashboards+:: {
    'security.json': {
      folderUid:: c.grafana.security_folder_uid,  // only security_team sees this folder (tracklog.jsonnet)
      title: 'Tracklog / Security',
      description: 'Authentication, authorisation and audit events of the platform.',
      panels: p.grid([
        p.row.new('Logins'),
        [
          p.timeseries.new('Login attempts by outcome', [p.prometheus(c, q.loginAttempts(c, sel), '{{outcome}}')], 'ops')
          + p.withStacking(),
          p.timeseries.new('Failed logins by reason', [p.prometheus(c, q.failedLoginsByReason(c, sel), '{{reason}}')], 'ops')
          + p.withLinks([p.logsLink('Security logs', logs, { log_type: 'security', search: 'failure' })]),
        ],
        [
          p.barchart.new('Failed logins by source IP (top %d)' % c.topN, [
            p.loki(c, q.topLogins(c, security, 'failure', 'client_address', '$__range'), '{{client_address}}', instant=true,
                   logTypes=['security']),
          ], 'client_address')
          + p.withLinks([p.logsLink('Logins from ${__data.fields.client_address}',
                                    logs,
                                    { log_type: 'security', search: '${__data.fields.client_address}' })]),
          p.barchart.new('Failed logins by country (top %d)' % c.topN, [
            p.loki(c,
                   q.topLogins(c, security, 'failure', 'client_geo_country_iso_code', '$__range'),
                   '{{client_geo_country_iso_code}}',
                   instant=true,
                   logTypes=['security']),
          ], 'client_geo_country_iso_code'),
        ],
        [
          p.timeseries.new('Success after %s+ failures (per user, %s windows)'
                           % [c.num(t.failures_before_success), t.failed_logins_window], [
            p.loki(c,
                   q.successAfterFailures(c, security, t.failures_before_success, t.failed_logins_window),
                   '{{user_id}}',
                   logTypes=['security']),
          ])
          + p.withBars()
          + p.withDescription('Users with at least thresholds.failures_before_success failed logins and a successful one '
                              + 'within thresholds.failed_logins_window (value: their logins in the window).'),
          p.table.new('Successful logins outside allowed countries', [
            p.loki(c, q.loginsOutsideCountries(c, security, '$__range'), instant=true, logTypes=['security']),
          ])
          + p.withDescription('Allowed: %s (security.allowed_countries).' % std.join(', ', c.security.allowed_countries)),
        ],
        p.row.new('Authorisation and audit'),
        [
          p.timeseries.new('Permission changes by role', [p.prometheus(c, q.permissionChanges(c, sel), '{{service}} {{role}}')])
          + p.withBars(),
          p.timeseries.new('Access violations (HTTP 403, logs)', [
            p.loki(c, q.accessViolations(c, application, '$__interval'), '{{%s}} {{http_route}}' % c.labels.service,
                   logTypes=['application']),
          ])
          + p.withBars() + p.withStacking()
          + p.withLinks([p.logsLink('403s of ${__field.labels.service}',
                                    logs,
                                    { service: '${__field.labels.service}', search: '403' })]),
        ],
        p.logs.new('Permission changes (audit log)', [
          p.loki(c, audit + ' |= "permission.change"', maxLines=c.logLimit, logTypes=['audit']),
        ]) + p.withHeight(8),
        p.logs.new('Security log stream', [p.loki(c, security, maxLines=c.logLimit, logTypes=['security'])]),
      ]),
    },
  },
}
