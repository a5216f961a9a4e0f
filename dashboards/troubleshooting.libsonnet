// Troubleshooting: search the logs by service, log type, level, free text and trace id; follow one trace
// across services. Other dashboards' data links land here with these variables set.
local p = import 'lib/panels.libsonnet';
local q = import 'lib/queries.libsonnet';

local custom(name, label, values, allValue) = {
  type: 'custom',
  name: name,
  label: label,
  query: std.join(',', values),
  options: [{ text: v, value: v, selected: false } for v in values],
  includeAll: true,
  allValue: allValue,
  multi: true,
  current: { text: ['All'], value: ['$__all'], selected: true },
};

local textbox(name, label, description) = {
  type: 'textbox',
  name: name,
  label: label,
  description: description,
  query: '',
  current: { text: '', value: '' },
};

{
  local c = $._config,
  local search = q.logSel(c, [
    '%s=~"$log_type"' % c.labels.logType,
    '%s=~"$level"' % c.labels.level,
  ]) + ' |~ "(?i)$search" |= "$trace_id"',

  grafanaDashboards+:: {
    'troubleshooting.json': {
      title: 'Tracklog / Troubleshooting',
      description: 'Log search and trace view across the platform services.',
      variables:: [
        custom(c.labels.logType, 'Log type', std.objectFields(c.log_types), '.+'),
        custom(c.labels.level, 'Level', c.levels, '.+'),
        textbox('search', 'Search', 'A case-insensitive regular expression matched against the whole record.'),
        textbox('trace_id', 'Trace id', 'Show only records of this trace (the trace view below needs it).'),
      ],
      panels: p.grid([
        p.row.new('Search'),
        p.timeseries.new('Matching records by level', [
          p.loki(c, q.logLines(c, search, c.labels.level, '$__interval'), '{{level}}', logTypes='variable'),
        ])
        + p.withBars() + p.withStacking() + p.withHeight(6),
        p.logs.new('Records', [p.loki(c, search, maxLines=c.logLimit, logTypes='variable')]) + p.withHeight(16),
        p.row.new('Trace ${trace_id}'),
        p.table.new('Records of the trace by service and level', [
          p.loki(c,
                 q.logLines(c, q.traceRecords(c), '%s, %s' % [c.labels.service, c.labels.level], '$__range'),
                 instant=true),
        ])
        + p.withHeight(6)
        + p.withDescription('Set the trace id variable; the records of that trace in every service, in time order.'),
        p.logs.new('Trace view', [p.loki(c, q.traceRecords(c), maxLines=c.logLimit)])
        + p.withOptions({ sortOrder: 'Ascending', showLabels: true, prettifyLogMessage: true })
        + p.withHeight(14),
      ]),
    },
  },
}
