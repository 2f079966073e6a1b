/**
 * PNG plots without a browser: a Vega-Lite spec compiled by vega-lite, rendered to SVG by vega's headless View, and
 * rasterised by resvg (a Rust SVG renderer shipped as prebuilt npm binaries). docs/benchmarks.md embeds the files
 * this writes to docs/img/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import type * as Vega from 'vega';

/** docs/img in the checkout, whether run from bench/ or dist/bench/. */
export const PLOTS_DIR = path.resolve(
  __dirname,
  __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..',
  'docs',
  'img',
);

// vega and vega-lite are ES modules with top-level await: this CommonJS build must load them with a real import(),
// which TypeScript would otherwise compile to require().
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

/** A Vega-Lite spec (https://vega.github.io/vega-lite/docs/); vega-lite's own types need ESM module resolution. */
export type TopLevelSpec = Record<string, unknown>;

interface VegaLite {
  compile(spec: TopLevelSpec): { spec: Vega.Spec };
}

/** Renders a Vega-Lite spec to docs/img/<name>.png and returns the path. */
export async function plot(name: string, spec: TopLevelSpec): Promise<string> {
  const vega = await importEsm<typeof Vega>('vega');
  const vl = await importEsm<VegaLite>('vega-lite');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true } }).render().asPng();
  fs.mkdirSync(PLOTS_DIR, { recursive: true });
  const file = path.join(PLOTS_DIR, `${name}.png`);
  fs.writeFileSync(file, png);
  process.stdout.write(`plot: ${path.relative(process.cwd(), file)}\n`);
  return file;
}

export interface Series {
  /** The legend entry. */
  name: string;
  points: readonly { x: number; y: number }[];
}

/** A line chart of one or more series: the common case (time and memory against N; request rate over time). */
export function lineChart(
  name: string,
  options: {
    title: string;
    x: string;
    y: string;
    series: readonly Series[];
    logX?: boolean;
    /** A log scale on y too (figures spanning several orders of magnitude). */
    logY?: boolean;
    marks?: readonly { x: number; label: string }[];
  },
): Promise<string> {
  const values = options.series.flatMap((s) => s.points.map((p) => ({ series: s.name, x: p.x, y: p.y })));
  const line = {
    data: { values },
    mark: { type: 'line' as const, point: values.length < 60 },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative' as const,
        title: options.x,
        ...(options.logX ? { scale: { type: 'log' as const } } : {}),
      },
      y: {
        field: 'y',
        type: 'quantitative' as const,
        title: options.y,
        ...(options.logY ? { scale: { type: 'log' as const } } : {}),
      },
      color: { field: 'series', type: 'nominal' as const, title: null },
    },
  };
  const rules = options.marks?.length
    ? [
        {
          data: { values: options.marks.map((m) => ({ x: m.x, label: m.label })) },
          mark: { type: 'rule' as const, strokeDash: [4, 4], color: 'gray' },
          encoding: { x: { field: 'x', type: 'quantitative' as const } },
        },
        {
          data: { values: options.marks.map((m) => ({ x: m.x, label: m.label })) },
          mark: { type: 'text' as const, align: 'left' as const, dx: 3, y: 8, color: 'gray' },
          encoding: { x: { field: 'x', type: 'quantitative' as const }, text: { field: 'label' } },
        },
      ]
    : [];
  return plot(name, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: 560,
    height: 260,
    layer: [line, ...rules],
  });
}
