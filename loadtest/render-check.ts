#!/usr/bin/env node
// Renders an HTML report in headless Chromium and checks the screenshot really shows the plots.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { PALETTE } from './svg-plot.js';

/** The Chromium binary: $CHROMIUM, else Debian's /usr/bin/chromium or chromium-browser; null when absent. */
export function findChromium(): string | null {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((c): c is string => typeof c === 'string' && c !== '' && existsSync(c)) ?? null;
}

/** Screenshots `htmlPath` into `pngPath` with a throwaway profile; rejects on timeout or failure. */
export function screenshot(chromium: string, htmlPath: string, pngPath: string, size = { width: 1200, height: 2600 }, timeoutMs = 90_000): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'edgewise-chromium-'));
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
    '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profile}`,
    `--window-size=${size.width},${size.height}`, `--screenshot=${pngPath}`, pathToFileURL(resolve(htmlPath)).href,
  ];
  return new Promise<void>((resolvePromise, reject) => {
    const child = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      if (code === 0 && existsSync(pngPath)) resolvePromise();
      else reject(new Error(`chromium exited with ${signal ?? code}: ${stderr.trim().split('\n').pop() ?? ''}`));
    });
  });
}

export interface DecodedPng {
  width: number;
  height: number;
  /** RGB triples, row-major. */
  rgb: Uint8Array;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes). */
export function decodePng(buf: Buffer): DecodedPng {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG file');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [bitDepth, colorType, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (bitDepth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) {
        throw new Error(`unsupported PNG: bit depth ${bitDepth}, color type ${colorType}, interlace ${interlace}`);
      }
      channels = colorType === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c);
      cur[i] = (line[i] + pred) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      rgb.set(cur.subarray(x * channels, x * channels + 3), (y * width + x) * 3);
    }
    prev.set(cur);
  }
  return { width, height, rgb };
}

export interface RenderStats {
  width: number;
  height: number;
  /** Share of pixels that are not near-white. */
  inkFraction: number;
  /** Pixels within a small distance of each plot palette colour, by colour. */
  paletteHits: Record<string, number>;
}

export function renderStats(png: DecodedPng, colors: string[] = PALETTE.slice(0, 4)): RenderStats {
  const targets = colors.map((hex) => [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)]);
  const hits = new Array<number>(colors.length).fill(0);
  let ink = 0;
  const n = png.width * png.height;
  for (let p = 0; p < n; p++) {
    const r = png.rgb[p * 3];
    const g = png.rgb[p * 3 + 1];
    const b = png.rgb[p * 3 + 2];
    if (r < 240 || g < 240 || b < 240) ink++;
    targets.forEach(([tr, tg, tb], k) => {
      if (Math.abs(r - tr) + Math.abs(g - tg) + Math.abs(b - tb) < 40) hits[k]++;
    });
  }
  return { width: png.width, height: png.height, inkFraction: ink / n, paletteHits: Object.fromEntries(colors.map((c, k) => [c, hits[k]])) };
}

/**
 * The report rendered when the page has ink, and the first two series colours (every CDF plot
 * draws them when there are two scenarios; one scenario draws only the first) show as lines.
 */
export function checkRender(stats: RenderStats, seriesCount: number): string[] {
  const problems: string[] = [];
  if (stats.inkFraction < 0.02) problems.push(`page is almost blank (${(stats.inkFraction * 100).toFixed(2)}% ink)`);
  PALETTE.slice(0, Math.min(seriesCount, 2)).forEach((color) => {
    if ((stats.paletteHits[color] ?? 0) < 500) problems.push(`plot colour ${color} barely visible (${stats.paletteHits[color] ?? 0} px)`);
  });
  return problems;
}

/** Scenarios in the report, from the result.json the load test writes beside it (2, the stricter check, without one). */
function scenarioCount(html: string): number {
  const json = join(dirname(html), 'result.json');
  if (!existsSync(json)) return 2;
  const scenarios = (JSON.parse(readFileSync(json, 'utf8')) as { scenarios?: unknown[] }).scenarios;
  return Array.isArray(scenarios) && scenarios.length > 0 ? scenarios.length : 2;
}

async function main(argv: string[]): Promise<number> {
  const [html, png = 'report.png'] = argv;
  if (html === undefined || html === '--help') {
    process.stdout.write('usage: node dist/loadtest/render-check.js <report.html> [out.png]\n');
    return html === undefined ? 2 : 0;
  }
  const chromium = findChromium();
  if (chromium === null) {
    process.stdout.write('render-check: SKIPPED: chromium not installed (apt-get install -y chromium)\n');
    return 0;
  }
  await screenshot(chromium, html, png);
  const stats = renderStats(decodePng(readFileSync(png)));
  const problems = checkRender(stats, scenarioCount(html));
  process.stdout.write(`render-check: ${png} ${stats.width}x${stats.height}, ink ${(stats.inkFraction * 100).toFixed(1)}%, palette px ${JSON.stringify(stats.paletteHits)}\n`);
  for (const p of problems) process.stderr.write(`render-check: error: ${p}\n`);
  return problems.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`render-check: error: ${err.message}\n`);
      process.exit(1);
    },
  );
}
