// The one entry point of tracklog's dashboards and alerts (provisioning/render.py evaluates it).
//
// Why a top-level `tracklog.jsonnet` function rather than a `mixin.libsonnet` object: the renderer hands
// the checked tracklog.yaml (provisioning/jsonnetconfig.py) over as the top-level argument `config`, and a top-level argument needs a
// function at the top of a .jsonnet file. Inside, the mixin is still the usual sum (config + dashboards +
// alerts); with the default `{}` the file also renders the library's defaults with the plain `jsonnet` CLI,
// and another Jsonnet project can import it and call it with its own config.
//
// Output fields: grafanaDashboards (file name -> dashboard), prometheusRules and lokiRules (rule files;
// lokiRulesByTenant: tenant -> the rule file of the rules that read its records),
// grafanaAlerts (Grafana-managed rule groups, provisioning API shape), grafanaFolders (uid, title and the
// permissions apply sets), grafanaDashboardFolders (file name -> folder uid), grafanaTemplates (notification
// message templates) and grafanaProvisioning (Grafana's datasource, dashboard-provider and template files;
// render.py fills in the dashboards' paths).
local alerts = import 'alerts/alerts.libsonnet';
local dashboards = import 'dashboards/dashboards.libsonnet';
local defaults = import 'dashboards/lib/config.libsonnet';

// tracklog.yaml over the defaults: nested objects merge (`+:`), everything else replaces.
local patch(o) = {
  [k]+: patch(o[k])
  for k in std.objectFields(o)
  if std.isObject(o[k])
} + {
  [k]: o[k]
  for k in std.objectFields(o)
  if !std.isObject(o[k])
};

// Grafana's file provisioning of the datasources the dashboards and rules refer to, by fixed uid: Loki (one per
// tenant with endpoints.loki.tenants, each sending its X-Scope-OrgID), Prometheus and Alertmanager.
local datasources(c) =
  local loki = c.endpoints.loki;
  local lokiDatasource(tenant) =
    local ds = c.lokiTenantDatasource(tenant);
    local headers =
      (if tenant != '' then [{ name: 'X-Scope-OrgID', value: tenant }] else [])
      + (if loki.bearer_token_env != '' then [{ name: 'Authorization', value: 'Bearer ${%s}' % loki.bearer_token_env }]
         else []);
    // Secrets by reference: Grafana expands ${VAR} in provisioning files from its own environment.
    local secrets = {
      ['httpHeaderValue%d' % (i + 1)]: headers[i].value
      for i in std.range(0, std.length(headers) - 1)
    } + (if loki.password_env != '' then { basicAuthPassword: '${%s}' % loki.password_env } else {});
    {
      name: ds.name,
      type: ds.type,
      uid: ds.uid,
      access: 'proxy',
      url: loki.url,
      editable: false,
      jsonData: { maxLines: c.logLimit } + {
        ['httpHeaderName%d' % (i + 1)]: headers[i].name
        for i in std.range(0, std.length(headers) - 1)
      },
    } + (if std.length(secrets) > 0 then { secureJsonData: secrets } else {})
    + (if loki.username_env != '' then { basicAuth: true, basicAuthUser: '${%s}' % loki.username_env } else {});
  {
    apiVersion: 1,
    datasources: [
      lokiDatasource(loki.tenant),
      {
        name: c.datasources.prometheus.name,
        type: c.datasources.prometheus.type,
        uid: c.datasources.prometheus.uid,
        access: 'proxy',
        url: c.endpoints.prometheus.url,
        isDefault: true,
        editable: false,
        jsonData: { httpMethod: 'POST', timeInterval: '15s' },
      },
      {
        name: c.datasources.alertmanager.name,
        type: c.datasources.alertmanager.type,
        uid: c.datasources.alertmanager.uid,
        access: 'proxy',
        url: c.endpoints.alertmanager.url,
        editable: false,
        jsonData: { implementation: 'prometheus', handleGrafanaManagedAlerts: false },
      },
    ] + [lokiDatasource(tenant) for tenant in c.tenantIds if tenant != loki.tenant],
  };

// Grafana's folders: the main one (dashboards and alert rules) and the security one (the security dashboards
// and alert rules), which `tracklog apply` opens to grafana.security_team only (file provisioning cannot set
// permissions).
local folders(c) = [
  { uid: c.grafana.folder_uid, title: c.grafana.folder },
  { uid: c.grafana.security_folder_uid, title: c.grafana.security_folder }
  + (if c.grafana.security_team != '' then {
       permissions: [{ team: c.grafana.security_team, permission: c.grafana.security_permission }],
     } else {}),
];

// The folder of each dashboard: the one its hidden field `folderUid` names, else the main folder.
local dashboardFolders(c, dashboards) = {
  [file]: if std.objectHasAll(dashboards[file], 'folderUid') then dashboards[file].folderUid else c.grafana.folder_uid
  for file in std.objectFields(dashboards)
};

// Grafana's file provisioning of the rendered dashboards: one provider per folder, each reading the
// directory render.py writes that folder's dashboards to.
local dashboardProvider(c) = {
  apiVersion: 1,
  providers: [{
    name: folder.uid,
    orgId: 1,
    folder: folder.title,
    folderUid: folder.uid,
    type: 'file',
    disableDeletion: false,
    allowUiUpdates: false,
    updateIntervalSeconds: 30,
    options: { path: '', foldersFromFilesStructure: false },
  } for folder in folders(c)],
};

// Notification message templates, stripped as Grafana stores them (it trims the text), so that what
// apply wrote compares equal to what is rendered.
local templates(mixin) = [
  { name: name, template: std.stripChars(mixin.grafanaTemplates[name], ' \t\r\n') }
  for name in std.objectFields(mixin.grafanaTemplates)
];

function(config={})
  // A knob the library does not have would be ignored silently: name it instead.
  local unknown = [k for k in std.objectFields(config) if !std.objectHasAll(defaults._config, k)];
  assert std.length(unknown) == 0 : 'config: unknown key(s) %s: not a section of tracklog.yaml nor a knob of '
                                    % std.join(', ', unknown) + 'dashboards/lib/config.libsonnet';
  local mixin = defaults + dashboards + alerts + { _config+:: patch(config) };
  local c = mixin._config;
  {
    grafanaDashboards: mixin.grafanaDashboards,
    prometheusRules: mixin.prometheusRules,
    lokiRules: mixin.lokiRules,
    lokiRulesByTenant: mixin.lokiRulesByTenant,
    grafanaAlerts: mixin.grafanaAlerts,
    grafanaFolders: folders(c),
    grafanaDashboardFolders: dashboardFolders(c, mixin.grafanaDashboards),
    grafanaTemplates: templates(mixin),
    grafanaProvisioning: {
      datasources: datasources(c),
      dashboards: dashboardProvider(c),
      templates: { apiVersion: 1, templates: [{ orgId: 1 } + t for t in templates(mixin)] },
    },
  }
