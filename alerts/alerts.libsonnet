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
  // A list of rule groups, each the body of PUT /api/v1/provisioning/folder/{folderUID}/rule-groups/{title}
  // (Grafana decodes the folder key case-insensitively: folderUID and folderUid are the same field).
  grafanaAlerts:: [
    local folder = std.get(groups[g], 'folderUid', c.grafana.folder_uid);
    {
      folderUID: folder,
      title: g,
      interval: c.seconds(c.alertInterval),
      rules: [rule.grafanaRule(c, g, r, folder) for r in groups[g].rules],
    }
    for g in std.objectFields(groups)
  ],
}
