// Every knob of tracklog's dashboards and alerts, with its default, in one `_config+::` object.
//
// tracklog.jsonnet merges tracklog.yaml (checked and typed by provisioning/config.py, written for Jsonnet by
// provisioning/jsonnetconfig.py, passed as a top-level argument) over these defaults, objects recursively and
// everything else replaced. Sections that tracklog.yaml has keep its snake_case names (thresholds, security,
// grafana, services, log_types); knobs that only the Jsonnet uses are camelCase and may be overridden from
// tracklog.yaml as well (an unknown one is refused). Dashboards and alerts read
// only `$._config`; nothing here reads the environment.
local keep = { [ch]: true for ch in std.stringChars('abcdefghijklmnopqrstuvwxyz0123456789') };

// 'API health' -> 'api-health': lower case, every run of other characters becomes one '-'.
local slug(text) =
  local mapped = std.join('', [if std.objectHas(keep, ch) then ch else ' ' for ch in std.stringChars(std.asciiLower(text))]);
  std.join('-', std.filter(function(part) part != '', std.split(mapped, ' ')));

local unitSeconds = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 };

// A Grafana uid part from a Loki tenant id: every run of characters outside [A-Za-z0-9_-] becomes one '-'.
local uidSafe = { [ch]: true for ch in std.stringChars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-') };
local uidPart(text) = std.foldl(
  function(acc, ch) if std.objectHas(uidSafe, ch) then [acc[0] + ch, false] else if acc[1] then acc else [acc[0] + '-', true],
  std.stringChars(text),
  ['', false]
)[0];

// A regex matching `text` literally (the characters Python's re.escape escapes).
local regexSpecial = { [ch]: true for ch in std.stringChars('()[]{}?*+-|^$\\.&~# \t\n\r\f') };
local regexEscape(text) = std.join('', [if std.objectHas(regexSpecial, ch) then '\\' + ch else ch for ch in std.stringChars(text)]);

{
  _config+:: {
    local c = self,

    // ---------------------------------------------------------------------------------------------
    // Sections of tracklog.yaml. These defaults match the shipped file, so the library also renders
    // on its own (`jsonnet tracklog.jsonnet`).
    // ---------------------------------------------------------------------------------------------

    // The project's name, used in alert descriptions.
    project: 'delivery-tracking',
    // The environment the env variable selects when a dashboard opens.
    env: 'dev',
    // The platform's services; `team` is the alert label that routes a service's alerts.
    services: [
      { name: 'tracking-api', team: 'tracking' },
      { name: 'courier-ingest', team: 'tracking' },
      { name: 'auth', team: 'identity' },
      { name: 'web', team: 'web' },
    ],
    // How long Loki keeps each log type; the logs-retention dashboard shows them.
    log_types: {
      application: { retention: '30d' },
      system: { retention: '30d' },
      audit: { retention: '180d' },
      security: { retention: '180d' },
    },
    // The retention rules Loki gets, derived by provisioning/config.py from log_types (render.py passes them;
    // selector, priority, retention, days). The defaults: one rule per log type.
    retention_rules: [
      {
        log_type: t,
        selector: '{log_type="%s"}' % t,
        priority: 1,
        retention: c.log_types[t].retention,
        days: c.seconds(c.log_types[t].retention) / 86400,
      }
      for t in std.objectFields(c.log_types)
    ],
    // Alert thresholds; dashboards draw the same values as threshold lines.
    thresholds: {
      // Tracking API: share of 5xx responses, in percent, ...
      api_error_rate_percent: 1,
      // ... sustained this long before the alert fires.
      api_error_rate_for: '5m',
      // Tracking API: p95 request latency per route, in seconds, ...
      api_p95_latency_seconds: 0.5,
      // ... sustained this long.
      api_p95_latency_for: '10m',
      // Database query timeouts per minute, per service and operation, ...
      db_timeouts_per_minute: 5,
      // ... sustained this long.
      db_timeouts_for: '2m',
      // Failed logins from one client address within failed_logins_window.
      failed_logins_per_ip: 10,
      failed_logins_window: '5m',
      // Failures of one user before a success, within failed_logins_window, that the security dashboard
      // highlights (a password guessed after a run of failures).
      failures_before_success: 3,
      // Two logins of one user from different countries closer than this many hours (audit detect).
      impossible_travel_hours: 2,
      // Records the exporters dropped within exporter_dropped_window (1: any record).
      exporter_dropped_records: 1,
      exporter_dropped_window: '5m',
      // A service that logged nothing for this many minutes.
      silent_service_minutes: 10,
    },
    // Security policy the security alerts and dashboard check logins against.
    security: {
      // ISO 3166 alpha-2 codes logins are expected from; a successful login from elsewhere alerts.
      allowed_countries: ['DE', 'AT', 'CH', 'NL', 'FR'],
      // Networks clients are expected in (informational; LogQL in Loki 2.2 has no CIDR matching).
      allowed_networks: ['10.0.0.0/8', '192.168.0.0/16', '203.0.113.0/24'],
      // Roles whose every permission change alerts.
      admin_roles: ['admin', 'superuser'],
      // The login record's field holding the account's role(s), and the account populations (first match
      // wins; see tracklog.yaml): the country alert applies to detections.login_disallowed_country's.
      role_field: 'user.roles',
      populations: [
        { name: 'admins', roles: ['admin', 'superuser'] },
        { name: 'customers' },
      ],
      detections: {
        login_disallowed_country: { populations: ['admins', 'staff'] },
      },
      // Spread-out attacks on the auth service, counted within `window` (provisioning/securityconfig.py
      // reads the same keys for `audit detect`).
      attacks: {
        window: '10m',
        credential_stuffing: { accounts: 20, addresses: 20, unknown_user_share: 0.25 },
        password_spraying: { accounts: 20, addresses: 10, attempts_per_account: 3 },
        failure_surge: { baseline: '6h', factor: 3, failures: 30, ratio: 0.3 },
        spread_success_after_failures: { addresses: 3 },
      },
    },
    // Where the dashboards and Grafana-managed alerts live in Grafana.
    grafana: {
      // Folder title and uid of the dashboards and alert rules.
      folder: 'Delivery tracking',
      folder_uid: 'tracklog',
      // The team label of security alerts, and the Grafana team the security folder is open to
      // (empty: the security folder keeps Grafana's default permissions).
      security_team: 'security',
      // The folder of the security dashboards and alert rules. A top-level folder, not one inside `folder`:
      // a nested folder inherits its parent's Viewer and Editor access, which cannot be taken away there.
      security_folder: 'Delivery tracking / Security',
      security_folder_uid: 'tracklog-security',
      // What security_team may do there: 'View' or 'Edit'. Nobody else but Grafana's admins sees it.
      security_permission: 'View',
    },
    // The servers. Grafana's datasources point at Loki, Prometheus and Alertmanager (secrets only by the
    // name of the environment variable holding them, which Grafana expands); alert annotations link to
    // dashboards under Grafana's URL.
    endpoints: {
      // tenants: log type -> Loki tenant (X-Scope-OrgID) of its records, e.g. { security: 'security-logs' };
      // the log types not listed are in `tenant`.
      loki: {
        url: 'http://127.0.0.1:3100',
        tenant: '',
        tenants: {},
        username_env: '',
        password_env: '',
        bearer_token_env: '',
      },
      prometheus: { url: 'http://127.0.0.1:9090' },
      alertmanager: { url: 'http://127.0.0.1:9093' },
      grafana: { url: 'http://127.0.0.1:3000' },
    },

    // ---------------------------------------------------------------------------------------------
    // Knobs only the Jsonnet uses.
    // ---------------------------------------------------------------------------------------------

    // The service whose error-rate and latency alerts page: the tracking API.
    apiService: 'tracking-api',
    // The team label of alerts about the logging pipeline itself (exporters dropping records).
    platformTeam: 'sre',
    // Label names of Loki streams (the exporters' LokiHandler label keys) and of the scrape targets: used in
    // selectors, variables and log queries' grouping. Metric label names are fixed by exporters/metrics.py.
    labels: { service: 'service', env: 'env', logType: 'log_type', level: 'level' },
    // Prometheus selectors, pasted inside `{}`: the services' scrape job, and Loki's own.
    servicesSelector: 'job="tracklog"',
    lokiSelector: 'job="loki"',
    // The levels of log records, lowest first (the level variable's options).
    levels: ['debug', 'info', 'warn', 'error', 'critical'],
    // Levels counted as errors in log queries.
    errorLevels: ['error', 'critical'],
    // Datasources provisioning creates, by fixed uid; panels and rules refer to nothing else.
    datasources: {
      loki: { type: 'loki', uid: 'loki', name: 'Loki' },
      prometheus: { type: 'prometheus', uid: 'prometheus', name: 'Prometheus' },
      alertmanager: { type: 'alertmanager', uid: 'alertmanager', name: 'Alertmanager' },
    },
    // The name of the dashboard variable that picks the Loki tenant of queries reading several tenants' records.
    tenantVariable: 'loki_tenant',
    // Dashboard and alert-rule uids are this prefix plus a slug of the name (Grafana allows 40 characters).
    uidPrefix: 'tl-',
    // Tags on every dashboard; the dashboard links menu lists the dashboards with these tags.
    tags: ['tracklog'],
    // Time zone, auto-refresh and default time range of every dashboard.
    timezone: 'utc',
    refresh: '30s',
    timeFrom: 'now-6h',
    // Rows shown by log panels, and the N of top-N panels.
    logLimit: 1000,
    topN: 10,
    // Rate window of alert expressions, and how often rule groups are evaluated.
    alertRateWindow: '5m',
    alertInterval: '1m',
    // Labels every alert keeps apart (one alert per env when dev, staging and prod share Loki/Prometheus).
    alertLabels: ['env'],
    // If set, each alert gets runbook_url = runbookBaseUrl + '#' + the alert's name in lower case.
    runbookBaseUrl: '',

    // ---------------------------------------------------------------------------------------------
    // Derived values and helpers (not knobs).
    // ---------------------------------------------------------------------------------------------

    // The service names, and each service's team.
    serviceNames:: [s.name for s in c.services],
    teamOf(service)::
      std.foldl(function(team, s) if s.name == service && std.get(s, 'team', '') != '' then s.team else team,
                c.services,
                c.platformTeam),
    // ---------------------------------------------------------------------------------------------
    // Loki tenants (endpoints.loki.tenants): Loki 2.2 answers a query from one tenant only, so each query
    // is built with the log types it reads (panels.loki(..., logTypes), rule.reads(...)) and reads the
    // Grafana datasource of their tenant; Grafana gets one Loki datasource per tenant.
    // ---------------------------------------------------------------------------------------------
    // The tenant holding a log type's records.
    tenantOf(logType):: std.get(c.endpoints.loki.tenants, logType, c.endpoints.loki.tenant),
    // Every tenant tracklog writes to, the default one first.
    tenantIds:: std.foldl(function(ids, t) if std.member(ids, t) then ids else ids + [t],
                          [c.endpoints.loki.tenants[k] for k in std.objectFields(c.endpoints.loki.tenants)],
                          [c.endpoints.loki.tenant]),
    // Grafana's Loki datasource of a tenant: the configured one for the default tenant, else a copy named
    // after the tenant (uid 'loki' + tenant 'security-logs' -> 'loki-security-logs').
    lokiTenantDatasource(tenant)::
      if tenant == c.endpoints.loki.tenant then c.datasources.loki
      else c.datasources.loki {
        uid: std.substr('%s-%s' % [c.datasources.loki.uid, uidPart(tenant)], 0, 40),
        name: '%s (%s)' % [c.datasources.loki.name, tenant],
      },
    // The tenant a query reading `logTypes` reads: a list of log types, null (the query names none: the
    // default tenant) or 'variable' (a dashboard variable picks the log type). null when they are several
    // tenants' (a dashboard's query then reads the tenant its loki_tenant variable picks).
    lokiTenantFor(logTypes)::
      local tenants =
        if logTypes == null then [c.endpoints.loki.tenant]
        else if logTypes == 'variable' then []
        else std.uniq(std.sort([c.tenantOf(t) for t in logTypes]));
      if std.length(tenants) == 1 then tenants[0] else null,
    // The datasource {type, uid} of a dashboard query reading `logTypes` (see lokiTenantFor).
    lokiDatasourceFor(logTypes)::
      local tenant = c.lokiTenantFor(logTypes);
      local ds =
        if std.length(c.tenantIds) < 2 then c.datasources.loki
        else if tenant != null then c.lokiTenantDatasource(tenant)
        else c.datasources.loki { uid: '${%s}' % c.tenantVariable };
      { type: ds.type, uid: ds.uid },
    // The tenant an alert rule reading `logTypes` is evaluated in: a rule has no variable to pick one, so a
    // rule reading several tenants' records stays in the default tenant and sees only its part.
    lokiRuleTenant(logTypes)::
      local tenant = c.lokiTenantFor(logTypes);
      if tenant == null then c.endpoints.loki.tenant else tenant,
    // Grafana's datasource variable listing tracklog's Loki datasources ('Loki', 'Loki (<tenant>)').
    tenantVariableOf(ds):: {
      name: c.tenantVariable,
      label: 'Loki tenant',
      type: 'datasource',
      query: ds.type,
      regex: '/^%s( \\(.+\\))?$/' % regexEscape(ds.name),
      hide: 0,
      refresh: 1,
      current: { text: ds.name, value: ds.uid },
    },

    // The `by` clause of an alert: alertLabels first, then the alert's own labels.
    alertBy(labels):: std.join(', ', c.alertLabels + [labels]),
    // A regex alternative of strings: ['DE', 'AT'] -> 'DE|AT'.
    alternatives(values):: std.join('|', values),
    // The stable uid of a dashboard or alert rule, from its name.
    slug(text):: slug(text),
    uid(name):: std.substr(c.uidPrefix + slug(name), 0, 40),
    // A number as PromQL/LogQL text, without binary noise: 0.95 -> '0.95' (strings pass through).
    num(x)::
      if std.isString(x) then x
      else if x == std.floor(x) then '%d' % x
      else std.rstripChars(std.rstripChars('%.9f' % x, '0'), '.'),
    // The seconds in a duration such as '30d' or '5m'.
    seconds(duration)::
      local text = std.toString(duration);
      local unit = text[std.length(text) - 1];
      local number = std.substr(text, 0, std.length(text) - 1);
      local digits = std.length(number) > 0
                     && std.all([std.member('0123456789', ch) for ch in std.stringChars(number)]);
      if digits && std.objectHas(unitSeconds, unit) then
        std.parseInt(number) * unitSeconds[unit]
      else
        error 'not a duration like 30s, 5m, 24h, 30d, 4w or 1y: "%s"' % text,
  },
}
