// A small SVG line/area chart: axes with nice ticks and labels, gridlines, a legend, reference lines
// and markers with hover titles. Produces a self-contained <svg> string (no scripts, no fonts).
import { escapeHtml } from './html-escape.js';
import { linearScale, px, ticks, type Domain } from './svg-scale.js';

export type Point = readonly [number, number];

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly Point[];
  /** line: segments; area: segments filled down to y = 0 (histograms); markers: dots only. */
  readonly style: 'line' | 'area' | 'markers' | 'line-markers';
  readonly dash?: string;
  readonly width?: number;
  /** Markers drawn as rings, so a model drawn over an identical one still shows both. */
  readonly hollow?: boolean;
  /** Hover text per point (markers only). */
  readonly titles?: readonly string[];
}

export interface ReferenceLine {
  /** x: vertical line at value; y: horizontal line at value; diagonal: y = x. */
  readonly kind: 'x' | 'y' | 'diagonal';
  readonly value?: number;
  readonly color: string;
  readonly dash?: string;
  readonly label?: string;
}

export interface ChartSpec {
  /** Unique within the page (used for the clip path id). */
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly x: Domain;
  readonly y: Domain;
  readonly xFormat: (v: number) => string;
  readonly yFormat: (v: number) => string;
  /** Explicit x tick values (default: nice ticks over the domain). */
  readonly xTickValues?: readonly number[];
  readonly series: readonly Series[];
  readonly references?: readonly ReferenceLine[];
  readonly width?: number;
  readonly height?: number;
}

const FONT = 12;
const CHAR_WIDTH = 6.6; // average advance of a 12px sans-serif character, for legend layout

interface LegendItem {
  readonly name: string;
  readonly color: string;
  readonly dash?: string;
  readonly hollow?: boolean;
  readonly style: Series['style'] | 'reference';
}

/** Lays legend items out in rows that fit the width; returns their positions and the rows' height. */
function layoutLegend(items: readonly LegendItem[], left: number, width: number): { placed: { item: LegendItem; x: number; row: number }[]; rows: number } {
  const placed: { item: LegendItem; x: number; row: number }[] = [];
  let x = left;
  let row = 0;
  for (const item of items) {
    const w = 26 + item.name.length * CHAR_WIDTH + 18;
    if (x + w > left + width && x > left) {
      row++;
      x = left;
    }
    placed.push({ item, x, row });
    x += w;
  }
  return { placed, rows: items.length === 0 ? 0 : row + 1 };
}

function swatch(item: LegendItem, x: number, y: number): string {
  const dash = item.dash ? ` stroke-dasharray="${item.dash}"` : '';
  if (item.style === 'markers') return item.hollow ? `<circle cx="${px(x + 9)}" cy="${px(y)}" r="5" fill="none" stroke="${item.color}" stroke-width="2"/>` : `<circle cx="${px(x + 9)}" cy="${px(y)}" r="4" fill="${item.color}"/>`;
  if (item.style === 'area') return `<rect x="${px(x)}" y="${px(y - 6)}" width="18" height="12" fill="${item.color}" fill-opacity="0.25" stroke="${item.color}"${dash}/>`;
  return `<line x1="${px(x)}" y1="${px(y)}" x2="${px(x + 18)}" y2="${px(y)}" stroke="${item.color}" stroke-width="2.5"${dash}/>`;
}

function pathOf(points: readonly Point[], sx: (v: number) => number, sy: (v: number) => number): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(sx(x))} ${px(sy(y))}`).join('');
}

export function renderChart(spec: ChartSpec): string {
  const width = spec.width ?? 560;
  const height = spec.height ?? 360;
  const margin = { left: 68, right: 18, bottom: 50 };
  const references = spec.references ?? [];
  const legendItems: LegendItem[] = [
    ...spec.series.map((s) => ({ name: s.name, color: s.color, style: s.style, ...(s.dash ? { dash: s.dash } : {}), ...(s.hollow ? { hollow: true } : {}) })),
    ...references.filter((r) => r.label).map((r) => ({ name: r.label!, color: r.color, style: 'reference' as const, ...(r.dash ? { dash: r.dash } : {}) })),
  ];
  const legend = layoutLegend(legendItems, margin.left, width - margin.left - margin.right);
  const top = 14 + legend.rows * 20;
  const plot = { x0: margin.left, x1: width - margin.right, y0: top, y1: height - margin.bottom };
  const sx = linearScale(spec.x, plot.x0, plot.x1);
  const sy = linearScale(spec.y, plot.y1, plot.y0);
  const clip = `clip-${spec.id}`;
  const parts: string[] = [];

  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(spec.title)}" class="chart-svg">`);
  parts.push(`<title>${escapeHtml(spec.title)}</title>`);
  parts.push(`<defs><clipPath id="${clip}"><rect x="${px(plot.x0)}" y="${px(plot.y0 - 2)}" width="${px(plot.x1 - plot.x0)}" height="${px(plot.y1 - plot.y0 + 4)}"/></clipPath></defs>`);
  parts.push(`<rect x="${px(plot.x0)}" y="${px(plot.y0)}" width="${px(plot.x1 - plot.x0)}" height="${px(plot.y1 - plot.y0)}" class="plot-bg"/>`);

  // Gridlines and tick labels.
  const xt = (spec.xTickValues ?? ticks(spec.x, 6)).filter((v) => v >= spec.x.min - 1e-12 && v <= spec.x.max + 1e-12);
  const yt = ticks(spec.y, 5).filter((v) => v >= spec.y.min - 1e-12 && v <= spec.y.max + 1e-12);
  parts.push('<g class="grid">');
  for (const v of xt) parts.push(`<line x1="${px(sx(v))}" y1="${px(plot.y0)}" x2="${px(sx(v))}" y2="${px(plot.y1)}"/>`);
  for (const v of yt) parts.push(`<line x1="${px(plot.x0)}" y1="${px(sy(v))}" x2="${px(plot.x1)}" y2="${px(sy(v))}"/>`);
  parts.push('</g>');
  parts.push(`<g class="tick-labels" font-size="${FONT - 1}">`);
  for (const v of xt) parts.push(`<text x="${px(sx(v))}" y="${px(plot.y1 + 16)}" text-anchor="middle">${escapeHtml(spec.xFormat(v))}</text>`);
  for (const v of yt) parts.push(`<text x="${px(plot.x0 - 6)}" y="${px(sy(v) + 4)}" text-anchor="end">${escapeHtml(spec.yFormat(v))}</text>`);
  parts.push('</g>');
  parts.push(`<g class="axes"><line x1="${px(plot.x0)}" y1="${px(plot.y1)}" x2="${px(plot.x1)}" y2="${px(plot.y1)}"/><line x1="${px(plot.x0)}" y1="${px(plot.y0)}" x2="${px(plot.x0)}" y2="${px(plot.y1)}"/></g>`);
  parts.push(`<text class="axis-label" x="${px((plot.x0 + plot.x1) / 2)}" y="${px(height - 10)}" text-anchor="middle" font-size="${FONT}">${escapeHtml(spec.xLabel)}</text>`);
  parts.push(
    `<text class="axis-label" transform="translate(16 ${px((plot.y0 + plot.y1) / 2)}) rotate(-90)" text-anchor="middle" font-size="${FONT}">${escapeHtml(spec.yLabel)}</text>`,
  );

  // Reference lines, then series, clipped to the plot area.
  parts.push(`<g clip-path="url(#${clip})">`);
  for (const r of references) {
    const dash = r.dash ? ` stroke-dasharray="${r.dash}"` : '';
    const d =
      r.kind === 'diagonal'
        ? `M${px(sx(spec.x.min))} ${px(sy(spec.x.min))}L${px(sx(spec.x.max))} ${px(sy(spec.x.max))}`
        : r.kind === 'x'
          ? `M${px(sx(r.value ?? 0))} ${px(plot.y0)}L${px(sx(r.value ?? 0))} ${px(plot.y1)}`
          : `M${px(plot.x0)} ${px(sy(r.value ?? 0))}L${px(plot.x1)} ${px(sy(r.value ?? 0))}`;
    parts.push(`<path class="reference" d="${d}" stroke="${r.color}" stroke-width="1.2" fill="none"${dash}/>`);
  }
  for (const s of spec.series) {
    if (s.points.length === 0) continue;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    const w = s.width ?? 2;
    const name = escapeHtml(s.name);
    if (s.style === 'area') {
      const base = sy(Math.max(spec.y.min, 0));
      const first = s.points[0]!;
      const last = s.points[s.points.length - 1]!;
      const d = `${pathOf(s.points, sx, sy)}L${px(sx(last[0]))} ${px(base)}L${px(sx(first[0]))} ${px(base)}Z`;
      parts.push(`<path class="series" data-series="${name}" d="${d}" fill="${s.color}" fill-opacity="0.22" stroke="${s.color}" stroke-width="${w}"${dash}/>`);
    }
    if (s.style === 'line' || s.style === 'line-markers') {
      parts.push(`<path class="series" data-series="${name}" d="${pathOf(s.points, sx, sy)}" fill="none" stroke="${s.color}" stroke-width="${w}" stroke-linejoin="round"${dash}/>`);
    }
    if (s.style === 'markers' || s.style === 'line-markers') {
      const paint = s.hollow ? `fill="#fff" fill-opacity="0" stroke="${s.color}" stroke-width="2"` : `fill="${s.color}" stroke="#fff" stroke-width="1"`;
      parts.push(`<g class="markers" data-series="${name}">`);
      s.points.forEach(([x, y], i) => {
        const title = s.titles?.[i];
        parts.push(`<circle cx="${px(sx(x))}" cy="${px(sy(y))}" r="${s.hollow ? 6 : 4.5}" ${paint}>${title ? `<title>${escapeHtml(title)}</title>` : ''}</circle>`);
      });
      parts.push('</g>');
    }
  }
  parts.push('</g>');

  // Legend above the plot.
  parts.push(`<g class="legend" font-size="${FONT}">`);
  for (const { item, x, row } of legend.placed) {
    const y = 10 + row * 20;
    parts.push(swatch(item, x, y));
    parts.push(`<text x="${px(x + 24)}" y="${px(y + 4)}">${escapeHtml(item.name)}</text>`);
  }
  parts.push('</g>');
  parts.push('</svg>');
  return parts.join('');
}
