// Line plots as self-contained SVG strings (axes, nice ticks, legend) for the HTML report.

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Fixed y range (a CDF is 0..1); otherwise from the data, starting at 0. */
  yRange?: [number, number];
  /** Draw a dot at each point (sparse series such as throughput per concurrency). */
  markers?: boolean;
  /** Vertical marker lines (events such as the budget change). */
  vLines?: { x: number; label: string }[];
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Tick values at a 1/2/5 × 10^k step covering [lo, hi] with about `count` ticks. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(4)}`;
}

export function linePlot(series: Series[], opts: PlotOptions): string {
  const width = opts.width ?? 520;
  const height = opts.height ?? 320;
  const m = { left: 64, right: 16, top: 34, bottom: 64 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map((p) => p[0]).concat((opts.vLines ?? []).map((l) => l.x));
  let xLo = xs.length ? Math.min(...xs) : 0;
  let xHi = xs.length ? Math.max(...xs) : 1;
  if (xHi === xLo) {
    xLo -= 1;
    xHi += 1;
  }
  const [yLo, yHiRaw] = opts.yRange ?? [0, all.length ? Math.max(...all.map((p) => p[1])) : 1];
  const yHi = yHiRaw > yLo ? yHiRaw * (opts.yRange ? 1 : 1.05) : yLo + 1;
  const xTicks = niceTicks(xLo, xHi);
  const yTicks = niceTicks(yLo, yHi);
  const sx = (x: number) => m.left + ((x - xLo) / (xHi - xLo)) * pw;
  const sy = (y: number) => m.top + ph - ((y - yLo) / (yHi - yLo)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(opts.title)}</text>`);
  for (const t of yTicks) {
    if (t < yLo || t > yHi) continue;
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of xTicks) {
    if (t < xLo || t > xHi) continue;
    out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${sx(t).toFixed(1)}" y="${m.top + ph + 16}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${height - 26}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);
  for (const line of opts.vLines ?? []) {
    const x = sx(line.x).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#888" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${x}" y="${m.top - 4}" text-anchor="middle" fill="#555">${escapeXml(line.label)}</text>`);
  }
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length > 0) {
      const d = pts.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      if (opts.markers) for (const [x, y] of pts) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${color}"/>`);
    }
    // Legend below the x axis label, left to right.
    const lx = m.left + i * 120;
    out.push(`<rect x="${lx}" y="${height - 14}" width="12" height="4" fill="${color}"/>`);
    out.push(`<text x="${lx + 16}" y="${height - 9}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}
