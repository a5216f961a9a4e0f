// The house defaults, stamped on every dashboard in grafanaDashboards (a post-processing layer, added last):
// uid derived from the file name ('api-health.json' -> 'tl-api-health'), the tags, time zone, refresh,
// time range, the links menu, the env and service variables in front of the dashboard's own, panel ids,
// and no datasource other than the configured ones. Single dashboards never repeat these.
local lokiVariable(c, name, label, allValue) = {
  type: 'query',
  name: name,
  label: label,
  datasource: { type: c.datasources.loki.type, uid: c.datasources.loki.uid },
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
  local envVariable = lokiVariable(c, c.labels.env, 'Environment', '.*') {
    current: { text: [c.env], value: [c.env], selected: true },
  },
  // "All" is '.+' so that Loki selectors built from it always hold a non-empty matcher.
  local serviceVariable = lokiVariable(c, c.labels.service, 'Service', '.+') {
    current: { text: ['All'], value: ['$__all'], selected: true },
  },
  local dashboards = super.grafanaDashboards,

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
      templating: { list: [envVariable, serviceVariable] + std.get(dashboards[file], 'variables', []) },
      panels: std.mapWithIndex(function(i, p) p { id: i + 1 }, super.panels),
    }
    for file in std.objectFields(dashboards)
  },
}
