// A small dependency-free SVG line chart for the adaptive-serving docs (benchmarks and quality tables).

export interface Series {
  name: string;
  points: [number, number][];
  /** Dashed horizontal reference instead of a polyline (points[0][1] is its value). */
  reference?: boolean;
  /** Optional text beside each point (same order as points). */
  labels?: string[];
  /** Dashed polyline (e.g. a lower precision rung beside the lossless one). */
  dashed?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

function ticks(lo: number, hi: number, n = 5): number[] {
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n || 1)));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= n) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-9; v += nice) out.push(Number(v.toPrecision(10)));
  return out;
}

export function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: Series[]; width?: number; height?: number }): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 380;
  const m = { l: 64, r: 170, t: 36, b: 48 };
  const all = opts.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const pad = (Math.max(...ys) - Math.min(...ys)) * 0.08 || 1;
  // Non-negative data keeps a floor at 0; data below 0 (relative changes) keeps its own range.
  const y0 = Math.min(...ys) >= 0 ? Math.max(0, Math.min(...ys) - pad) : Math.min(...ys) - pad;
  const y1 = Math.max(...ys) + pad;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">${esc(opts.yLabel)}</text>`,
  ];
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t)}" y2="${sy(t)}" stroke="#ddd"/><text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${t}</text>`);
  }
  for (const t of ticks(x0, x1, 10)) parts.push(`<text x="${sx(t)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="black"/><line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="black"/>`);
  opts.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    if (s.reference) {
      const y = sy(s.points[0][1]);
      parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="${c}" stroke-dasharray="6 4"/>`);
    } else {
      parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''} points="${s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ')}"/>`);
      for (const p of s.points) parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${c}"/>`);
      s.labels?.forEach((label, k) => {
        const p = s.points[k];
        if (p !== undefined) parts.push(`<text x="${sx(p[0]).toFixed(1)}" y="${(sy(p[1]) - 7).toFixed(1)}" text-anchor="middle" font-size="9" fill="${c}">${esc(label)}</text>`);
      });
    }
    parts.push(`<line x1="${W - m.r + 10}" x2="${W - m.r + 30}" y1="${m.t + 10 + i * 18}" y2="${m.t + 10 + i * 18}" stroke="${c}" stroke-width="2"${s.reference ? ' stroke-dasharray="6 4"' : s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    parts.push(`<text x="${W - m.r + 34}" y="${m.t + 14 + i * 18}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
