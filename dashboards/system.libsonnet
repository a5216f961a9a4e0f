// System: service start-ups and shutdowns, resources per service, scrape health, and the exporters'
// own health (records dropped by reason, sent, queue depth).
local p = import 'lib/panels.libsonnet';
local q = import 'lib/queries.libsonnet';

{
  local c = $._config,
  local t = c.thresholds,
  local sel = q.promSel(c),
  local system = q.logSel(c, ['%s="system"' % c.labels.logType]),

  grafanaDashboards+:: {
    'system.json': {
      title: 'Tracklog / System',
      description: 'Lifecycle and resources of the platform services, scraping, and the log pipeline.',
      panels: p.grid([
        p.row.new('Lifecycle'),
        [
          p.timeseries.new('Start-ups and shutdowns', [p.prometheus(c, q.lifecycleEvents(c, sel), '{{service}} {{phase}}')])
          + p.withBars(),
          p.logs.new('Lifecycle events', [
            p.loki(c, system + ' |~ "service\\\\.(start|stop)"', maxLines=c.logLimit, logTypes=['system']),
          ]) + p.withHeight(8),
        ],
        p.row.new('Resources'),
        [
          p.timeseries.new('CPU',
                           [p.prometheus(c, q.resource(c, 'cpu_utilization_ratio', sel), '{{service}}')],
                           'percentunit'),
          p.timeseries.new('Memory', [p.prometheus(c, q.resource(c, 'memory_bytes', sel), '{{service}}')], 'bytes'),
        ],
        [
          p.timeseries.new('Open files', [p.prometheus(c, q.resource(c, 'open_files', sel), '{{service}}')]),
          p.timeseries.new('Threads', [p.prometheus(c, q.resource(c, 'threads', sel), '{{service}}')]),
        ],
        p.row.new('Scraping and exporters'),
        [
          p.timeseries.new('Scrape health (up)', [p.prometheus(c, q.scrapeHealth(c), '{{job}} {{instance}}')])
          + p.withMin(0) + p.withDescription('1: the target answered its last scrape.'),
          p.timeseries.new('Exporter records dropped by reason', [
            p.prometheus(c, q.exporterDropped(c, sel), '{{service}} {{client}} {{reason}}'),
          ])
          + p.withBars() + p.withThreshold(t.exporter_dropped_records),
        ],
        [
          p.timeseries.new('Exporter records sent',
                           [p.prometheus(c, q.exporterSent(c, sel), '{{service}} {{client}}')],
                           'ops'),
          p.timeseries.new('Exporter queue depth', [p.prometheus(c, q.exporterQueueDepth(c, sel), '{{service}} {{client}}')]),
        ],
      ]),
    },
  },
}
