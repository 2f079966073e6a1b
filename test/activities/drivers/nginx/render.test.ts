/** What the nginx driver renders for the metrics log (`router.metricsLog`): pure, no nginx (metrics-log.test.ts runs it). */
import {
  METRICS_LOG_FORMAT,
  renderCloseLocation,
  renderModuleLocation,
  renderVars,
} from '../../../../activities/drivers/nginx/render';
import type { ModuleState, RenderContext } from '../../../../activities/drivers/nginx/render';

const ctx: RenderContext = {
  confDir: '/etc/nginx/cutover',
  defaultUpstream: 'platform',
  previewHeader: 'x-cutover-preview',
};
const withLog: RenderContext = { ...ctx, metricsLog: '/var/log/nginx/cutover-metrics.log' };
const shop: ModuleState = {
  module: 'Shop',
  backends: [
    { backend: 'shop-1-blue', weight: 90 },
    { backend: 'shop-2-green', weight: 10 },
  ],
};

/** The body of `location <which>` in a rendered file. */
function location(text: string, which: string): string {
  const start = text.indexOf(`location ${which} {\n`);
  if (start < 0) throw new Error(`no location ${which} in:\n${text}`);
  return text.slice(start, text.indexOf('\n}\n', start) + 3);
}

describe('without metricsLog', () => {
  test('module locations neither set $cutover_module nor log anywhere of their own', () => {
    const text = renderModuleLocation(shop, ctx);
    expect(text).not.toContain('access_log');
    expect(text).not.toContain('$cutover_module');
    expect(renderCloseLocation(ctx)).not.toContain('access_log');
  });
});

describe('with metricsLog', () => {
  test('both locations of a module name it before anything can send the request elsewhere, and log to the file', () => {
    const text = renderModuleLocation(shop, withLog);
    for (const which of ['/Shop/', '= /Shop']) {
      const body = location(text, which);
      const lines = body.split('\n').map((l) => l.trim());
      const named = lines.indexOf('set $cutover_module Shop;');
      expect(named).toBeGreaterThan(0);
      // Set before the reload check: a request sent to @cutover_close still carries its module.
      expect(named).toBeLessThan(lines.findIndex((l) => l.startsWith('if (-f /etc/nginx/cutover/cutover.reloading)')));
      expect(lines).toContain(`access_log /var/log/nginx/cutover-metrics.log ${METRICS_LOG_FORMAT};`);
    }
  });

  test('the reload drain location logs module requests only (if=$cutover_module)', () => {
    expect(location(renderCloseLocation(withLog), '@cutover_close')).toContain(
      `    access_log /var/log/nginx/cutover-metrics.log ${METRICS_LOG_FORMAT} if=$cutover_module;\n`,
    );
  });
});

describe('cutover@vars.upstream', () => {
  const vars = renderVars();

  test('defines the log format, the status class and an empty $cutover_module whether or not a log is set', () => {
    expect(vars).toContain(`log_format ${METRICS_LOG_FORMAT}\n`);
    expect(vars).toContain(
      'map $status $cutover_code_class {\n    ~^[12] 2xx;\n    ~^3 3xx;\n    ~^4 4xx;\n    default 5xx;\n}\n',
    );
    expect(vars).toContain('map "" $cutover_module {\n    default "";\n}\n');
  });

  test('a line starts with module, backend, status class and seconds (what cutover-router.mtail reads), then the combined format', () => {
    const format = vars.slice(vars.indexOf(`log_format ${METRICS_LOG_FORMAT}`)).replace(/'\s*\n\s*'/g, '');
    expect(format).toContain(
      `'$cutover_module $cutover_backend $cutover_code_class $request_time ` +
        `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';`,
    );
  });
});
