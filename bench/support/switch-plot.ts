/**
 * The plot of bench/switch-traffic.ts: one deployment under load, three panels on one time axis (seconds from the
 * start of its "before" phase): requests completed and failed per bucket; the slowest ordinary request started in
 * each bucket; the machine's CPU busy share. The deployment is shaded, each rule switch is a dashed line with what
 * moved ("→green", "25%", "+1", "−1").
 */
import type { RequestResult } from '../../examples/load';
import { plot } from './plot';
import type { ActivitySpan } from './switch-windows';

export interface SwitchPlotInput {
  title: string;
  /** Requests of this deployment's phases, and the CPU samples, on the load's clock. */
  requests: readonly RequestResult[];
  cpu: readonly { atMs: number; busyPct: number }[];
  /** Load-clock ms: start of "before", of the deployment, end of the deployment, end of "after". */
  fromMs: number;
  deployStartMs: number;
  deployEndMs: number;
  toMs: number;
  spans: readonly ActivitySpan[];
  /** Load-clock ms of instants to mark with a dotted line (nginx: its reloads). */
  instants?: readonly number[];
  bucketMs: number;
}

export function switchPlot(name: string, o: SwitchPlotInput): Promise<string> {
  const buckets = Math.ceil((o.toMs - o.fromMs) / o.bucketMs);
  const sec = (ms: number) => Math.round((ms - o.fromMs) / 10) / 100;
  const at = (ms: number) => Math.floor((ms - o.fromMs) / o.bucketMs);
  const done = new Array<number>(buckets).fill(0);
  const failed = new Array<number>(buckets).fill(0);
  const slowest = new Array<number>(buckets).fill(0);
  for (const r of o.requests) {
    const end = at(r.finishedMs ?? r.startedMs);
    if (end >= 0 && end < buckets) {
      if (r.version !== undefined) done[end] = (done[end] ?? 0) + 1;
      else failed[end] = (failed[end] ?? 0) + 1;
    }
    const start = at(r.startedMs);
    if (r.kind !== 'slow' && r.finishedMs !== undefined && start >= 0 && start < buckets) {
      slowest[start] = Math.max(slowest[start] ?? 0, r.finishedMs - r.startedMs);
    }
  }
  const per = `per ${o.bucketMs} ms`;
  const x = (i: number) => sec(o.fromMs + (i + 0.5) * o.bucketMs);
  const rate = [
    ...done.map((y, i) => ({ x: x(i), y, series: `completed ${per}` })),
    ...failed.map((y, i) => ({ x: x(i), y, series: `failed ${per}` })),
  ];
  const latency = slowest.map((y, i) => ({ x: x(i), y: Math.round(y * 10) / 10 }));
  const cpu = o.cpu
    .filter((c) => c.atMs >= o.fromMs && c.atMs <= o.toMs)
    .map((c) => ({ x: sec(c.atMs), y: c.busyPct }));
  // A switch is marked where its activity ended (the rule applied and read back: for nginx, after the drain and the
  // reload); its whole activity, and every other router write (an nginx reload too), are bands.
  const switches = o.spans.filter((s) => s.kind === 'switch').map((s) => ({ x: sec(s.endMs), label: s.label ?? '' }));
  const bands = o.spans
    .filter((s) => s.kind === 'switch' || s.kind === 'router write')
    .map((s) => ({ x: sec(s.startMs), x2: sec(s.endMs), kind: s.kind }));
  const xScale = { domain: [0, sec(o.toMs)] };
  const background = (withLabels: boolean) => [
    {
      data: { values: [{ x: sec(o.deployStartMs), x2: sec(o.deployEndMs) }] },
      mark: { type: 'rect', color: '#eee' },
      encoding: { x: { field: 'x', type: 'quantitative', scale: xScale }, x2: { field: 'x2' } },
    },
    {
      data: { values: bands },
      mark: { type: 'rect', opacity: 0.35 },
      encoding: {
        x: { field: 'x', type: 'quantitative' },
        x2: { field: 'x2' },
        color: {
          field: 'kind',
          type: 'nominal',
          scale: { domain: ['switch', 'router write'], range: ['#f4a261', '#a8dadc'] },
          legend: withLabels ? { title: null, orient: 'bottom' } : null,
        },
      },
    },
    {
      data: { values: switches },
      mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' },
      encoding: { x: { field: 'x', type: 'quantitative' } },
    },
    {
      data: { values: (o.instants ?? []).map((t) => ({ x: sec(t) })) },
      mark: { type: 'rule', strokeDash: [1, 2], color: 'black' },
      encoding: { x: { field: 'x', type: 'quantitative' } },
    },
    ...(withLabels
      ? [
          {
            data: { values: switches },
            mark: { type: 'text', align: 'left', dx: 2, y: 6, color: 'gray', fontSize: 9 },
            encoding: { x: { field: 'x', type: 'quantitative' }, text: { field: 'label' } },
          },
        ]
      : []),
  ];
  const panel = (title: string, values: unknown[], withSeries: boolean, labels: boolean, last: boolean) => ({
    width: 620,
    height: 140,
    resolve: { scale: { color: 'independent' } },
    layer: [
      ...background(labels),
      {
        data: { values },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: {
            field: 'x',
            type: 'quantitative',
            title: last
              ? 's since the "before" phase began (grey: the deployment; dashed: each switch applied; dotted: nginx reloads)'
              : null,
            scale: xScale,
          },
          y: { field: 'y', type: 'quantitative', title },
          ...(withSeries
            ? { color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom' } } }
            : {}),
        },
      },
    ],
  });
  return plot(name, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: o.title,
      subtitle: `requests completed and failed per ${o.bucketMs} ms; the slowest GET/POST started in each; the machine's CPU`,
    },
    spacing: 12,
    config: { legend: { labelLimit: 300 } },
    vconcat: [
      panel(`requests / ${o.bucketMs} ms`, rate, true, true, false),
      panel('slowest (ms)', latency, false, false, false),
      panel('CPU busy (%)', cpu, false, false, true),
    ],
    resolve: { scale: { color: 'independent' } },
  });
}
