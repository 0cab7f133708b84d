// A self-contained HTML report (inline CSS and SVG, no scripts) of a load-test run.

import { cdfPoints, tpotMs, type Distribution } from './stats.js';
import type { LoadTestReport } from './report-model.js';
import type { ScenarioResult } from './runner.js';
import { escapeXml, linePlot, type Series } from './svg-plot.js';

const CSS = `body{font-family:sans-serif;margin:24px;color:#222;max-width:1150px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:12px}
.ok{color:#2a7d2a}.bad{color:#b22222}.note{font-size:13px;color:#555}`;

function f(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

function scenarioName(s: ScenarioResult): string {
  if (s.rate !== null) return `rate ${s.rate}/s${s.concurrency !== null ? ` (max ${s.concurrency})` : ''}`;
  return `concurrency ${s.concurrency ?? 1}`;
}

function summaryTable(scenarios: ScenarioResult[]): string {
  const head = ['scenario', 'completed', 'failed', 'duration s', 'req/s', 'output tok/s', 'total tok/s'];
  const rows = scenarios.map((s) => {
    const x = s.summary;
    const failed = `<span class="${x.failed === 0 ? 'ok' : 'bad'}">${x.failed}</span>`;
    return [escapeXml(scenarioName(s)), String(x.completed), failed, f(x.durationS), f(x.requestThroughput), f(x.outputThroughput, 1), f(x.totalTokenThroughput, 1)];
  });
  return table(head, rows);
}

function latencyTable(scenarios: ScenarioResult[]): string {
  const head = ['scenario', 'metric (ms)', 'mean', 'median', 'p90', 'p99', 'max', 'n'];
  const rows: string[][] = [];
  for (const s of scenarios) {
    const x = s.summary;
    const metrics: [string, Distribution][] = [['TTFT', x.ttftMs], ['TPOT', x.tpotMs], ['ITL', x.itlMs], ['E2E', x.e2eMs]];
    for (const [name, d] of metrics) {
      rows.push([escapeXml(scenarioName(s)), name, f(d.mean), f(d.median), f(d.p90), f(d.p99), f(d.max), String(d.count)]);
    }
  }
  return table(head, rows);
}

function table(head: string[], rows: string[][]): string {
  return `<table><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</table>`;
}

function cdfPlots(scenarios: ScenarioResult[]): string {
  const pick: [string, (s: ScenarioResult) => number[]][] = [
    ['TTFT', (s) => s.results.filter((r) => r.ok && r.ttftMs !== null).map((r) => r.ttftMs as number)],
    ['TPOT', (s) => s.results.map(tpotMs).filter((v): v is number => v !== null)],
    ['ITL', (s) => s.results.filter((r) => r.ok).flatMap((r) => r.itlMs)],
    ['E2E latency', (s) => s.results.filter((r) => r.ok).map((r) => r.e2eMs)],
  ];
  return pick
    .map(([name, values]) => {
      const series: Series[] = scenarios.map((s) => ({ name: scenarioName(s), points: cdfPoints(values(s)) }));
      return linePlot(series, { title: `${name} CDF`, xLabel: `${name} (ms)`, yLabel: 'fraction of requests', yRange: [0, 1] });
    })
    .join('');
}

function sweepPlots(scenarios: ScenarioResult[]): string {
  const swept = scenarios.filter((s) => s.rate === null && s.concurrency !== null);
  if (swept.length < 2) return '';
  const by = (pick: (s: ScenarioResult) => number): [number, number][] => swept.map((s) => [s.concurrency as number, pick(s)]);
  return (
    `<h2>Throughput and latency against concurrency</h2><div class="plots">` +
    linePlot([{ name: 'output tok/s', points: by((s) => s.summary.outputThroughput) }], {
      title: 'Output token throughput', xLabel: 'concurrency', yLabel: 'tokens / s', markers: true,
    }) +
    linePlot([{ name: 'req/s', points: by((s) => s.summary.requestThroughput), color: '#2ca02c' }], {
      title: 'Request throughput', xLabel: 'concurrency', yLabel: 'requests / s', markers: true,
    }) +
    linePlot(
      [
        { name: 'median TTFT', points: by((s) => s.summary.ttftMs.median) },
        { name: 'median TPOT', points: by((s) => s.summary.tpotMs.median) },
      ],
      { title: 'Latency against concurrency', xLabel: 'concurrency', yLabel: 'ms', markers: true },
    ) +
    `</div>`
  );
}

/** Use and budget on one axis, unless the budget (e.g. all of RAM) would flatten the use line. */
function memoryPlot(s: ScenarioResult, vLines: { x: number; label: string }[]): string {
  const mib = 1024 * 1024;
  const used: Series = { name: 'memory used', points: s.timeline.map((p) => [p.tMs / 1000, p.memoryUsedBytes / mib]) };
  const budget: Series = { name: 'budget', points: s.timeline.map((p) => [p.tMs / 1000, p.memoryBudgetBytes / mib]) };
  const maxUsed = Math.max(...used.points.map((p) => p[1]));
  const maxBudget = Math.max(...budget.points.map((p) => p[1]));
  if (maxBudget > 10 * maxUsed) {
    return linePlot([used], { title: `Memory used (MiB); budget ${maxBudget.toFixed(0)} MiB off scale`, xLabel: 'time (s)', yLabel: 'MiB', vLines });
  }
  return linePlot([used, budget], { title: 'Memory (MiB)', xLabel: 'time (s)', yLabel: 'MiB', vLines });
}

function timelinePlots(s: ScenarioResult): string {
  if (s.timeline.length === 0) return '';
  const t = (ms: number) => ms / 1000;
  const vLines = s.events
    .filter((e) => e.kind === 'memory-pressure' && e.ok)
    .map((e) => ({ x: t(e.tMs), label: e.message.startsWith('restored') ? 'restored' : 'budget cut' }));
  const depth = s.timeline.filter((p) => p.depthMean !== null).map((p): [number, number] => [t(p.tMs), p.depthMean as number]);
  // NOTE: result.json files written before precisions were recorded have none; `?? {}` keeps them renderable.
  const precisionNames = [...new Set(s.timeline.flatMap((p) => Object.keys(p.precisions ?? {})))].sort();
  const precisionSeries: Series[] = precisionNames.map((name) => ({
    name,
    points: s.timeline.filter((p) => p.depthMean !== null).map((p): [number, number] => [t(p.tMs), p.precisions?.[name] ?? 0]),
  }));
  return (
    `<h2>Server timeline: ${escapeXml(scenarioName(s))}</h2><div class="plots">` +
    linePlot(
      [
        { name: 'running', points: s.timeline.map((p) => [t(p.tMs), p.running]) },
        { name: 'waiting', points: s.timeline.map((p) => [t(p.tMs), p.waiting]) },
      ],
      { title: 'Requests running / waiting', xLabel: 'time (s)', yLabel: 'requests', vLines },
    ) +
    memoryPlot(s, vLines) +
    linePlot([{ name: 'mean depth', points: depth, color: '#9467bd' }], {
      title: 'Governor: depth of finished requests', xLabel: 'time (s)', yLabel: 'blocks run', vLines, markers: true,
    }) +
    (precisionSeries.length === 0
      ? ''
      : linePlot(precisionSeries, {
          title: 'Governor: precision of finished requests', xLabel: 'time (s)', yLabel: 'requests finished', vLines, markers: true,
        })) +
    `</div>`
  );
}

export function renderHtmlReport(report: LoadTestReport): string {
  const notes = report.scenarios.flatMap((s) => s.events.map((e) => `<li class="${e.ok ? 'ok' : 'note'}">${escapeXml(scenarioName(s))}: ${escapeXml(e.message)}</li>`));
  const params = [
    ['server', escapeXml(report.baseUrl)],
    ['model', escapeXml(report.model)],
    ['protocol / endpoint', `${report.protocol} / ${report.endpoint}`],
    ['requests per scenario', String(report.requestsPerScenario)],
    ['prompt tokens (mean, stddev)', `${report.promptTokens.mean}, ${report.promptTokens.stddev}`],
    ['max tokens', String(report.maxTokens)],
    ['started', escapeXml(report.startedAt)],
  ];
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Edgewise load test: ${escapeXml(report.model)}</title><style>${CSS}</style></head><body>
<h1>Edgewise load test: ${escapeXml(report.model)} over ${report.protocol.toUpperCase()}</h1>
${table(['parameter', 'value'], params)}
<h2>Throughput</h2>${summaryTable(report.scenarios)}
<h2>Latency</h2>${latencyTable(report.scenarios)}
<h2>Latency distributions</h2><div class="plots">${cdfPlots(report.scenarios)}</div>
${sweepPlots(report.scenarios)}
${report.scenarios.map(timelinePlots).join('')}
${notes.length > 0 ? `<h2>Notes</h2><ul>${notes.join('')}</ul>` : ''}
</body></html>
`;
}
