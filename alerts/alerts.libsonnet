// Every alert group, rendered three ways: Prometheus rule groups (PromQL), Loki ruler groups (LogQL, same
// YAML shape) and Grafana-managed rule groups in the provisioning API's shape. Each file adds groups to
// alertGroups (name -> {datasource, rules, folderUid?}); the rules come from rule.libsonnet's constructor.
// folderUid is the Grafana folder of a Grafana-managed group (default grafana.folder_uid): who may see a
// folder may see its alert rules, so restricted alerts go to a restricted folder.
// templates.libsonnet adds the notification message templates (grafanaTemplates, name -> text).
local rule = import 'rule.libsonnet';

(import 'api.libsonnet')
+ (import 'security.libsonnet')
+ (import 'exporters.libsonnet')
+ (import 'templates.libsonnet')
+ {
  local c = $._config,
  local groups = $.alertGroups,
  local names(datasource) = [g for g in std.objectFields(groups) if groups[g].datasource == datasource],
  local rulerGroups(datasource) = {
    groups: [
      { name: g, interval: c.alertInterval, rules: [rule.rulerRule(c, r) for r in groups[g].rules] }
      for g in names(datasource)
    ],
  },

  prometheusRules:: rulerGroups('prometheus'),
  lokiRules:: rulerGroups('loki'),
  // The Loki ruler's rule file per tenant (endpoints.loki.tenants): each rule where the records it reads are;
  // a group keeps its name in every tenant it has rules in. Only the default tenant when there are no rules.
  lokiRulesByTenant::
    local all = rulerGroups('loki');
    local inTenant(tenant) = {
      groups: [
        { name: g, interval: c.alertInterval, rules: [
          rule.rulerRule(c, r) for r in groups[g].rules if c.lokiRuleTenant(r.logTypes) == tenant
        ] }
        for g in names('loki')
      ],
    };
    local files = {
      [tenant]: inTenant(tenant) { groups: [g for g in super.groups if std.length(g.rules) > 0] }
      for tenant in c.tenantIds
    };
    local used = { [t]: files[t] for t in std.objectFields(files) if std.length(files[t].groups) > 0 };
    if std.length(used) > 0 then used else { [c.endpoints.loki.tenant]: all },
  // A list of rule groups, each the body of PUT /api/v1/provisioning/folder/{folderUID}/rule-groups/{title}
  // (Grafana decodes the folder key case-insensitively: folderUID and folderUid are the same field).
  // The id of the panel titled r.panel on dashboard r.dashboard: Grafana-managed rules link to it.
  local panelId(g, r) =
    local file = r.dashboard + '.json';
    assert std.objectHas($.grafanaDashboards, file) : 'alert %s (group %s): no dashboard %s' % [r.name, g, file];
    assert r.panel != null
           : 'alert %s (group %s): withDashboard(%s) names no panel; give the title of the panel that shows its signal'
             % [r.name, g, std.manifestJsonMinified(r.dashboard)];
    local ids = [p.id for p in $.grafanaDashboards[file].panels if p.title == r.panel];
    assert std.length(ids) == 1
           : 'alert %s (group %s): dashboard %s has %d panels titled %s' % [r.name, g, file, std.length(ids),
                                                                             std.manifestJsonMinified(r.panel)];
    ids[0],
  grafanaAlerts:: [
    local folder = std.get(groups[g], 'folderUid', c.grafana.folder_uid);
    {
      folderUID: folder,
      title: g,
      interval: c.seconds(c.alertInterval),
      rules: [
        rule.grafanaRule(c, g, r, folder, if r.dashboard != null then panelId(g, r) else null)
        for r in groups[g].rules
      ],
    }
    for g in std.objectFields(groups)
  ],
}
