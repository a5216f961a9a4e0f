// The demo's tracking page: a map of one order's courier, instrumented with Grafana Faro's Web SDK.
// The web service serves it at / and mounts the collector at /collect (same origin: no CORS). Every user action
// is one trace: its event, the API request its fetch makes (traceparent, read by the web service) and any error
// it hits share a trace id, so `tracklog trace <id>` shows the click, the API and the DB queries together.
import { initializeFaro, getWebInstrumentations } from '@grafana/faro-web-sdk';
import { TracingInstrumentation } from '@grafana/faro-web-tracing';

const params = new URLSearchParams(location.search);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content;
const user = { id: params.get('user') || 'u-guest', username: params.get('name') || 'guest' };
const orderId = params.get('order') || 'o-20451';
const tracking = { ready: false, busy: 0, follow: false };
window.tracking = tracking;  // the demo's browser driver waits on ready and busy

const faro = initializeFaro({
  url: new URL('/collect', location.href).href,
  apiKey: meta('faro-key'),
  app: { name: 'tracking-web', version: meta('app-version') || '0' },
  user,
  batching: { enabled: true, sendTimeout: 1000 },
  instrumentations: [...getWebInstrumentations({ captureConsole: true }), new TracingInstrumentation()],
});
const tracer = faro.api.getOTEL().trace.getTracer('tracking-web');

function banner(text) {
  document.getElementById('banner').textContent = text;
}

async function api(method, path, body) {
  const headers = { 'X-User-ID': user.id };
  if (body) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    console.warn(`${method} ${path} answered ${response.status}: ${data.error || response.statusText}`);
    banner(data.error || `the server answered ${response.status}`);
  }
  return { ok: response.ok, status: response.status, data };
}

// One user action, one trace. `work` must call fetch before its first await, so the request is a child of the span.
function action(name, attributes, work) {
  tracking.busy += 1;
  return tracer.startActiveSpan(name, (span) => {
    const { traceId, spanId } = span.spanContext();
    faro.api.pushEvent(name, { order_id: orderId, ...attributes }, 'tracking');
    return work()
      .catch((error) => {  // the page's error boundary: report it with the action's trace, tell the user
        faro.api.pushError(error, { spanContext: { traceId, spanId }, context: { action: name } });
        banner('Something went wrong drawing the map.');
      })
      .finally(() => { span.end(); tracking.busy -= 1; });
  });
}

function placeCourier(position) {
  const dot = document.getElementById('courier');
  const x = ((position.lon - 13.25) / 0.35) * 600;
  const y = (1 - (position.lat - 52.4) / 0.25) * 400;
  dot.style.left = `${Math.max(0, Math.min(588, x))}px`;
  dot.style.top = `${Math.max(0, Math.min(388, y))}px`;
  dot.style.display = 'block';
}

function drawHeading(position) {
  // A bug in the follow mode: tracking-api's positions carry no heading, so this throws a TypeError.
  document.getElementById('status').textContent = `heading ${position.heading.toFixed(0)}°`;
}

function draw(parts) {
  const track = parts[0];
  const position = track.position || (parts[1] && parts[1].lat !== undefined ? parts[1] : null);
  if (!position) { banner('The courier has not reported a position yet.'); return; }
  placeCourier(position);
  if (tracking.follow) drawHeading(position);
  banner('');
  document.getElementById('status').textContent = `status: ${track.status}`;
}

function openMap() {
  return action('map.open', { zoom: '13' }, async () => {
    const started = performance.now();
    const answer = await api('GET', `/api/orders/${orderId}/map`);
    if (answer.ok) draw(answer.data.parts);
    faro.api.pushMeasurement({ type: 'map.load', values: { duration_ms: performance.now() - started } },
      { context: { order_id: orderId, status: String(answer.status) } });
  });
}

function refresh() {
  return action('map.refresh', { follow: String(tracking.follow) }, async () => {
    const answer = await api('GET', `/api/orders/${orderId}/refresh`);
    if (answer.ok) draw(answer.data.parts);
  });
}

function saveSettings() {
  const settings = { share_location: document.getElementById('share').checked,
    precision: document.getElementById('precision').value };
  return action('settings.location.change', { share_location: String(settings.share_location),
    precision: settings.precision }, async () => {
    const answer = await api('PUT', '/api/users/me/location-settings', settings);
    if (answer.ok) banner('Settings saved.');
  });
}

document.getElementById('order').textContent = orderId;
document.getElementById('refresh').addEventListener('click', () => { refresh(); });
document.getElementById('follow').addEventListener('change', (e) => { tracking.follow = e.target.checked; });
document.getElementById('save').addEventListener('click', () => { saveSettings(); });
openMap().finally(() => { tracking.ready = true; });
