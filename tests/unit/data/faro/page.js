// A tiny tracking page instrumented with Grafana Faro, to capture the SDK's real payloads.
import { initializeFaro, getWebInstrumentations, FetchTransport } from '@grafana/faro-web-sdk';
import { TracingInstrumentation } from '@grafana/faro-web-tracing';

const params = new URLSearchParams(location.search);
const collector = params.get('collector');
const api = params.get('api');
const faro = initializeFaro({
  transports: [new FetchTransport({
    url: collector + '/collect',
    apiKey: params.get('key') || 'test-app-key',
    requestCompression: params.get('gzip') === '1',  // gzip through the browser's CompressionStream
  })],
  app: { name: 'tracking-web', version: '1.4.0', environment: 'dev' },
  user: { id: params.get('user') || 'u-17', username: 'dispatcher-17', email: 'dispatcher17@example.com', attributes: { role: 'dispatcher' } },
  batching: { enabled: true, sendTimeout: 200 },
  instrumentations: [
    ...getWebInstrumentations({ captureConsole: true }),
    new TracingInstrumentation({ instrumentationOptions: { propagateTraceHeaderCorsUrls: [new RegExp('.*')] } }),
  ],
});

function renderMap(settings) {
  return settings.layers.map((l) => l.name);
}

async function main() {
  faro.api.pushEvent('map.open', { map_id: 'berlin-center', zoom: '12' }, 'tracking');
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 50));
  faro.api.pushMeasurement({ type: 'map.load', values: { duration_ms: performance.now() - t0, tiles: 24 } }, { context: { map_id: 'berlin-center' } });
  if (api) {
    try { await fetch(api + '/api/orders/o-42'); } catch (e) { console.error('api failed', String(e)); }
  }
  // One user action as one trace: the API request (traceparent), the event and the JS error share its trace id.
  const tracer = faro.api.getOTEL().trace.getTracer('tracking-web');
  await new Promise((done) => tracer.startActiveSpan('map.refresh', (span) => {
    const request = api ? fetch(api + '/api/orders/o-42?refresh=1').catch(() => null) : Promise.resolve();
    faro.api.pushEvent('map.refresh', { map_id: 'berlin-center' }, 'tracking');
    try { renderMap({ layers: null }); } catch (e) { faro.api.pushError(e); }
    request.finally(() => { span.end(); done(); });
  }));
  faro.api.pushEvent('settings.location.change', { from: 'Berlin', to: 'Hamburg', contact: 'call +49 30 12345678' }, 'tracking');
  faro.api.pushLog(['courier list loaded', 12], { level: 'info', context: { token: 'abc' } });
  console.warn('slow tile server for user dispatcher17@example.com');
  setTimeout(() => { renderMap({}); }, 0);  // TypeError: cannot read 'map' of undefined, uncaught
  await new Promise((r) => setTimeout(r, 1500));
  document.title = 'done';
}
main();
