// The house alert rule: `new(...)` plus `with*()` mixins, and the three shapes it renders to.
//
// A rule keeps its query and its threshold apart (`query op threshold`): Prometheus and Loki rule files
// get the comparison pasted into `expr`; Grafana-managed rules get the query as node A and the comparison
// as a math expression B, their condition.
local lowPrecedence = [' or ', ' and ', ' unless '];
local upper = { [ch]: true for ch in std.stringChars('ABCDEFGHIJKLMNOPQRSTUVWXYZ') };

// 'TrackingApiHighErrorRate' -> 'tracking-api-high-error-rate'.
local kebab(name) = std.asciiLower(std.join('', [
  if i > 0 && std.objectHas(upper, name[i]) && !std.objectHas(upper, name[i - 1]) then '-' + name[i] else name[i]
  for i in std.range(0, std.length(name) - 1)
]));

{
  // name: the alertname; datasource: 'prometheus' or 'loki' (a key of $._config.datasources).
  new(c, name, datasource, query, op, threshold):: {
    name: name,
    key: c.slug(kebab(name)),  // unique per rule: the Grafana rule uid derives from it
    title: name,  // unique per folder in Grafana
    datasource: datasource,
    query: query,
    op: op,
    threshold: threshold,
    'for': '0m',
    window: '10m',  // the time range a Grafana-managed rule queries (at least the longest range in `query`)
    severity: 'warning',
    team: c.platformTeam,
    labels: {},
    summary: name,
    description: '',
    dashboard: null,  // a dashboard file name without .json, e.g. 'api-health'
    panel: null,  // the title of that dashboard's panel that shows the rule's signal
    logTypes: null,  // a LogQL rule: the log types whose records it reads (decide its Loki tenant)
  },
  withKey(key):: { key: key },
  withTitle(title):: { title: title },
  withFor(duration):: { 'for': duration },
  withWindow(duration):: { window: duration },
  withSeverity(severity):: { severity: severity },
  withTeam(team):: { team: team },
  withLabels(labels):: { labels+: labels },
  withSummary(text):: { summary: text },
  // What the alert means and what to do about it: the runbook, as text.
  withRunbook(text):: { description: text },
  // The dashboard and the panel (by title) that show the rule's signal: Grafana links the alert to both, and
  // refuses a rule that names a dashboard without a panel (models/alert_rule.go, SetDashboardAndPanelFromAnnotations).
  withDashboard(name, panel=null):: { dashboard: name, panel: panel },
  // A LogQL rule reads the records of these log types: it is evaluated in, and reads, their Loki tenant.
  reads(logTypes):: { logTypes: logTypes },

  // The comparison as PromQL/LogQL; the query is parenthesised when `or`/`and`/`unless` would bind looser.
  expr(c, r)::
    local needsParens = std.length([w for w in lowPrecedence if std.strReplace(r.query, w, '') != r.query]) > 0;
    '%s %s %s' % [if needsParens then '(%s)' % r.query else r.query, r.op, c.num(r.threshold)],

  labels(r):: { severity: r.severity, team: r.team } + r.labels,

  annotations(c, r)::
    {
      summary: r.summary,
      description: r.description,
    }
    + (if c.runbookBaseUrl != '' then { runbook_url: '%s#%s' % [c.runbookBaseUrl, std.asciiLower(r.name)] } else {})
    + (if r.dashboard != null then { dashboard_url: '%s/d/%s' % [c.endpoints.grafana.url, c.uid(r.dashboard)] } else {}),

  // A rule of a Prometheus or Loki ruler rule file.
  rulerRule(c, r):: {
    alert: r.name,
    expr: $.expr(c, r),
    [if r['for'] != '0m' then 'for']: r['for'],
    labels: $.labels(r),
    annotations: $.annotations(c, r),
  },

  // A rule in the shape of Grafana's alerting provisioning API (POST /api/v1/provisioning/alert-rules),
  // in group `group` of the folder `folder` (the group's folder: alerts.libsonnet, `folderUid`).
  // `panelId` is the id of r.panel in r.dashboard (alerts.libsonnet looks it up in the rendered dashboard).
  grafanaRule(c, group, r, folder=c.grafana.folder_uid, panelId=null)::
    local ds = if r.datasource == 'loki' then c.lokiTenantDatasource(c.lokiRuleTenant(r.logTypes))
               else c.datasources[r.datasource];
    local expression = { type: '__expr__', uid: '__expr__' };
    {
      uid: c.uid(r.key),  // its prefix (uidPrefix, 'tl-') is how apply tells tracklog's rule groups in Grafana
      title: r.title,
      ruleGroup: group,
      folderUID: folder,
      condition: 'B',
      data: [
        {
          refId: 'A',
          relativeTimeRange: { from: c.seconds(r.window), to: 0 },
          datasourceUid: ds.uid,
          model: {
            refId: 'A',
            datasource: { type: ds.type, uid: ds.uid },
            expr: r.query,
            intervalMs: 1000,
            maxDataPoints: 43200,
          } + (if ds.type == 'loki' then { queryType: 'instant' } else { instant: true, range: false }),
        },
        {
          refId: 'B',
          relativeTimeRange: { from: 0, to: 0 },
          datasourceUid: expression.uid,
          model: {
            refId: 'B',
            datasource: expression,
            type: 'math',
            expression: '$A %s %s' % [r.op, c.num(r.threshold)],
          },
        },
      ],
      noDataState: 'OK',  // no series: nothing matched the query, so nothing is wrong
      execErrState: 'Error',
      'for': r['for'],
      isPaused: false,
      labels: $.labels(r),
      annotations: $.annotations(c, r)
                   + (if r.dashboard != null then {
                        __dashboardUid__: c.uid(r.dashboard),
                        __panelId__: std.toString(panelId),
                      } else {}),
    },
}
