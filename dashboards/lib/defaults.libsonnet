// The house defaults, stamped on every dashboard in grafanaDashboards (a post-processing layer, added last):
// uid derived from the file name ('api-health.json' -> 'tl-api-health'), the tags, time zone, refresh,
// time range, the links menu, the env and service variables in front of the dashboard's own, panel ids,
// and no datasource other than the configured ones. Single dashboards never repeat these.
//
// With Loki tenants (endpoints.loki.tenants), a dashboard with a query reading several tenants' records gets
// the loki_tenant variable in front, and its queries that name no log type read the tenant it picks too (one
// tenant for the whole dashboard); its Loki variables read where its queries do.
local p = import 'panels.libsonnet';

local lokiVariable(c, name, label, allValue, datasource) = {
  type: 'query',
  name: name,
  label: label,
  datasource: datasource,
  query: 'label_values(%s)' % name,
  definition: 'label_values(%s)' % name,
  refresh: 2,  // on time range change
  includeAll: true,
  allValue: allValue,
  multi: true,
  sort: 1,
};

{
  local c = $._config,
  local envVariable(ds) = lokiVariable(c, c.labels.env, 'Environment', '.*', ds) {
    current: { text: [c.env], value: [c.env], selected: true },
  },
  // "All" is '.+' so that Loki selectors built from it always hold a non-empty matcher.
  local serviceVariable(ds) = lokiVariable(c, c.labels.service, 'Service', '.+', ds) {
    current: { text: ['All'], value: ['$__all'], selected: true },
  },
  local dashboards = super.grafanaDashboards,
  local base = { type: c.datasources.loki.type, uid: c.datasources.loki.uid },
  local picked = { type: base.type, uid: '${%s}' % c.tenantVariable },
  local lokiUids(panels) = std.uniq(std.sort([
    t.datasource.uid for panel in panels for t in std.get(panel, 'targets', []) if t.datasource.type == base.type
  ])),
  // Queries that name no log type follow the dashboard's tenant variable.
  local follow(panel) =
    if !std.objectHas(panel, 'targets') then panel
    else
      local targets = [if t.datasource == base && std.get(t, 'logTypes', null) == null then t { datasource: picked }
                       else t for t in panel.targets];
      panel { targets: targets, datasource: p.datasourceOf(targets) },

  grafanaDashboards:: {
    [file]: dashboards[file] {
      local name = std.strReplace(file, '.json', ''),
      uid: c.uid(name),
      tags: std.uniq(std.sort(c.tags + std.get(dashboards[file], 'tags', []))),
      timezone: c.timezone,
      refresh: c.refresh,
      time: { from: c.timeFrom, to: 'now' },
      schemaVersion: 39,
      editable: false,
      graphTooltip: 1,  // shared crosshair
      links: [{
        type: 'dashboards',
        title: 'Tracklog',
        tags: c.tags,
        asDropdown: true,
        includeVars: true,
        keepTime: true,
      }],
      local uids = lokiUids(super.panels),
      local picks = std.member(uids, picked.uid),
      local lokiDs = if picks then picked else if std.length(uids) == 1 then { type: base.type, uid: uids[0] } else base,
      templating: {
        list: (if picks then [c.tenantVariableOf(c.datasources.loki)] else [])
              + [envVariable(lokiDs), serviceVariable(lokiDs)]
              + std.get(dashboards[file], 'variables', []),
      },
      panels: std.mapWithIndex(function(i, panel) (if picks then follow(panel) else panel) { id: i + 1 }, super.panels),
    }
    for file in std.objectFields(dashboards)
  },
}
