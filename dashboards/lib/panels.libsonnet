// House panel constructors in grafonnet's style: `<kind>.new(...)` plus `with*()` mixins joined with `+`.
//
// Targets are made by `prometheus(c, expr)` / `loki(c, expr, logTypes=...)`; each carries its datasource
// {type, uid} from `c.datasources` (a Loki target the one of the tenant holding the log types it reads), and
// a panel takes its targets' datasource (Grafana's '-- Mixed --' when they differ). `grid(rows)` lays out
// rows of panels (each row shares the 24 columns equally); lib/defaults.libsonnet numbers the panels.
local mixed = { type: 'datasource', uid: '-- Mixed --' };  // Grafana's datasource of a panel using several
local datasourceOf(targets) =
  if std.length(std.uniq(std.sort([t.datasource.uid for t in targets]))) == 1 then targets[0].datasource else mixed;

local panel(type, title, targets) = {
  type: type,
  title: title,
  targets: [targets[i] { refId: std.char(std.codepoint('A') + i) } for i in std.range(0, std.length(targets) - 1)],
  [if std.length(targets) > 0 then 'datasource']: datasourceOf(targets),
  gridPos: { h: 8 },
};

local fieldDefaults(unit) = {
  fieldConfig: { defaults: { unit: unit, links: [] }, overrides: [] },
};

{
  datasourceOf(targets):: datasourceOf(targets),

  // ----------------------------------------------------------------------------------------------
  // Targets.
  // ----------------------------------------------------------------------------------------------

  prometheus(c, expr, legend='', instant=false, format='time_series'):: {
    datasource: { type: c.datasources.prometheus.type, uid: c.datasources.prometheus.uid },
    expr: expr,
    legendFormat: legend,
    instant: instant,
    range: !instant,
    format: format,
  },
  // logTypes: the log types whose records `expr` reads (a list; 'variable' when a dashboard variable picks
  // them; null when it names none), which decide the Loki tenant it reads (c.lokiDatasourceFor).
  loki(c, expr, legend='', instant=false, maxLines=null, logTypes=null):: {
    datasource: c.lokiDatasourceFor(logTypes),
    logTypes:: logTypes,
    expr: expr,
    legendFormat: legend,
    queryType: if instant then 'instant' else 'range',
    [if maxLines != null then 'maxLines']: maxLines,
  },

  // ----------------------------------------------------------------------------------------------
  // Panels.
  // ----------------------------------------------------------------------------------------------

  timeseries: {
    new(title, targets, unit='short'):: panel('timeseries', title, targets) + fieldDefaults(unit) + {
      fieldConfig+: { defaults+: { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never' } } },
      options: {
        legend: { displayMode: 'table', placement: 'bottom', calcs: ['mean', 'max'] },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    },
  },
  stat: {
    new(title, targets, unit='short', calc='lastNotNull'):: panel('stat', title, targets) + fieldDefaults(unit) + {
      gridPos+: { h: 4 },
      options: {
        reduceOptions: { calcs: [calc], fields: '', values: false },
        colorMode: 'value',
        graphMode: 'none',
        textMode: 'auto',
      },
    },
  },
  table: {
    new(title, targets, unit='short'):: panel('table', title, targets) + fieldDefaults(unit) + {
      options: { showHeader: true, cellHeight: 'sm' },
      // Instant queries come back one frame per series: merge them into rows of labels and a Value.
      transformations: [{ id: 'merge', options: {} }, { id: 'organize', options: { excludeByName: { Time: true } } }],
    },
  },
  logs: {
    new(title, targets):: panel('logs', title, targets) + {
      gridPos+: { h: 12 },
      options: {
        showTime: true,
        wrapLogMessage: true,
        prettifyLogMessage: false,
        enableLogDetails: true,
        dedupStrategy: 'none',
        sortOrder: 'Descending',
        showLabels: false,
        showCommonLabels: false,
      },
    },
  },
  barchart: {
    // x: the label whose values are the bars (instant queries, one series per value).
    new(title, targets, x, unit='short'):: panel('barchart', title, targets) + fieldDefaults(unit) + {
      options: {
        xField: x,
        orientation: 'auto',
        showValue: 'auto',
        legend: { showLegend: false },
        xTickLabelRotation: 0,
        barWidth: 0.8,
      },
      transformations: [
        { id: 'merge', options: {} },
        { id: 'organize', options: { excludeByName: { Time: true } } },
        { id: 'sortBy', options: { sort: [{ field: x }] } },
      ],
    },
  },
  row: {
    new(title):: { type: 'row', title: title, collapsed: false, panels: [], gridPos: { h: 1, w: 24 } },
  },

  // ----------------------------------------------------------------------------------------------
  // Mixins.
  // ----------------------------------------------------------------------------------------------

  withDescription(text):: { description: text },
  withUnit(unit):: { fieldConfig+: { defaults+: { unit: unit } } },
  withHeight(h):: { gridPos+: { h: h } },
  withMin(value):: { fieldConfig+: { defaults+: { min: value } } },
  // Green below `value`, `color` from it; timeseries panels draw it as a dashed line.
  withThreshold(value, color='red'):: {
    fieldConfig+: { defaults+: {
      thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: color, value: value }] },
      custom+: { thresholdsStyle: { mode: 'dashed' } },
    } },
  },
  withStacking():: { fieldConfig+: { defaults+: { custom+: { stacking: { mode: 'normal', group: 'A' }, fillOpacity: 60 } } } },
  withBars():: { fieldConfig+: { defaults+: { custom+: { drawStyle: 'bars', fillOpacity: 80 } } } },
  // Data links on every field, e.g. from a metric to the matching logs.
  withLinks(links):: { fieldConfig+: { defaults+: { links+: links } } },
  // Query with a fixed step, e.g. '1d' for per-day bars.
  withInterval(interval):: { interval: interval },
  // Override the dashboard's time range for this panel, e.g. '180d'.
  withTimeFrom(range):: { timeFrom: range, hideTimeOverride: false },
  withTransformations(list):: { transformations+: list },
  withOptions(options):: { options+: options },
  withPrettyJson():: { options+: { prettifyLogMessage: true } },

  // A data link to the troubleshooting dashboard (uid `uid`), keeping the time range and env; `vars` maps
  // its variables to values, which may be ${__field.labels.<label>} or ${__data.fields.<field>} (these are
  // percent-encoded into the URL).
  logsLink(title, uid, vars)::
    local encode(v) =
      if std.startsWith(v, '${') && std.endsWith(v, '}') && std.length(std.findSubstr(':', v)) == 0
      then std.substr(v, 0, std.length(v) - 1) + ':percentencode}'
      else v;
    {
      title: title,
      url: '/d/%s?${__url_time_range}&${env:queryparam}%s' % [
        uid,
        std.join('', ['&var-%s=%s' % [k, encode(vars[k])] for k in std.objectFields(vars)]),
      ],
    },

  // ----------------------------------------------------------------------------------------------
  // Layout.
  // ----------------------------------------------------------------------------------------------

  // rows: a list whose items are a panel (full width) or an array of panels sharing the width equally.
  grid(rows)::
    local place(acc, row) =
      local items = if std.isArray(row) then row else [row];
      local n = std.length(items);
      local w = std.floor(24 / n);
      local h = std.foldl(function(m, p) std.max(m, p.gridPos.h), items, 1);
      {
        y: acc.y + h,
        panels: acc.panels + [
          items[i] { gridPos: { x: i * w, y: acc.y, w: if i == n - 1 then 24 - i * w else w, h: items[i].gridPos.h } }
          for i in std.range(0, n - 1)
        ],
      };
    std.foldl(place, rows, { y: 0, panels: [] }).panels,
}
