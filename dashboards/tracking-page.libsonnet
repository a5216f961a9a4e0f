// Tracking page: what users do on the delivery-tracking page and what breaks in their browsers, as Grafana Faro's
// Web SDK reports it through tracklog's collector (exporters/integrations/faro): sessions, actions, web vitals
// and the page's own timings, JavaScript errors, and what the collector took or refused.
local p = import 'lib/panels.libsonnet';
local q = import 'lib/queries.libsonnet';

{
  local c = $._config,
  local sel = q.promSel(c),
  local browser = ['application'],  // the collector files the browser's errors as application logs

  grafanaDashboards+:: {
    'tracking-page.json': {
      title: 'Tracklog / Tracking page',
      description: 'The tracking page in users\' browsers: sessions, actions, web vitals, JavaScript errors.',
      panels: p.grid([
        p.row.new('Users'),
        [
          p.timeseries.new('Browser sessions (5m)', [p.loki(c, q.browserSessions(c, '5m'), 'sessions')])
          + p.withMin(0) + p.withDescription('Distinct Faro sessions that sent anything in the last 5 minutes.'),
          p.timeseries.new('User actions per minute', [p.prometheus(c, q.uiActionsPerMinute(c, sel), '{{action}}')]),
        ],
        p.row.new('Performance'),
        [
          p.timeseries.new('Web vitals (p75)', [p.prometheus(c, q.webVitalP75(c, sel), '{{vital}}')], 's')
          + p.withDescription('LCP, FCP, TTFB and INP as browsers measured them; 75th percentile, as Google reports.'),
          p.timeseries.new('Page timings (p75)', [p.prometheus(c, q.pageTimingP75(c, sel), '{{name}}')], 's')
          + p.withDescription("The page's own measurements, such as the map's load time."),
        ],
        p.row.new('Errors'),
        [
          p.timeseries.new('JavaScript errors per minute', [p.loki(c, q.browserErrorsPerMinute(c), '{{service}}', logTypes=browser)])
          + p.withBars(),
          p.timeseries.new('Browser payloads by outcome', [p.prometheus(c, q.browserPayloads(c, sel), '{{outcome}}')],
                           'reqps')
          + p.withDescription('What the collector took, and what it refused (origin, key, size, rate).'),
        ],
        [
          p.logs.new('JavaScript errors', [p.loki(c, q.browserErrors(c), maxLines=c.logLimit, logTypes=browser)]),
        ],
      ]),
    },
  },
}
