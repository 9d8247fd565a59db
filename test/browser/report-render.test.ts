// report.html in Debian's headless Chromium (scripts/install-chromium.sh), network blocked: no errors, no
// requests, every chart drawn; a screenshot is kept at out/backtest-report.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { runBacktest } from '../../src/cli/backtest.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { simulatorBacktest } from '../helpers/backtest.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = resolve('out/backtest-report.png');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function makeReport(): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'cf-report-'));
  const stricter = join(work, 'stricter');
  cpSync(BUNDLED_MODEL, stricter, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(stricter, 'manifest.json'), 'utf8')) as { decision: { threshold: number; bands: { name: string; min_score: number }[] } };
  manifest.decision.threshold = 0.15;
  manifest.decision.bands = [{ name: 'low', min_score: 0 }, { name: 'medium', min_score: 0.075 }, { name: 'high', min_score: 0.15 }];
  writeFileSync(join(stricter, 'manifest.json'), JSON.stringify(manifest));
  const { htmlPath } = await runBacktest({
    ...simulatorBacktest({ customers: 400, days: 120, seed: 5 }),
    models: [{ label: 'bundled', dir: BUNDLED_MODEL }, { label: 'stricter threshold', dir: stricter }],
    outDir: join(work, 'report'),
  });
  return htmlPath;
}

test('report.html renders offline in Chromium: no errors, no requests, every chart drawn', async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run 'bash scripts/install-chromium.sh' (Debian's chromium package)`);
  const htmlPath = await makeReport();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    const context = await browser.newContext({ offline: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
    // Anything but the report itself would be an external asset: refuse it and remember it.
    const url = pathToFileURL(htmlPath).href;
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u === url) return route.continue();
      requests.push(u);
      return route.abort();
    });
    const response = await page.goto(url, { waitUntil: 'load' });
    assert.ok(response === null || response.ok(), 'the page loads');

    const charts = await page.$$eval('figure.chart', (figures) =>
      figures.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        const drawn = [...f.querySelectorAll('path.series, polyline')].filter((el) => (el.getAttribute('d') ?? el.getAttribute('points') ?? '').trim().length > 0);
        return {
          key: f.getAttribute('data-chart') ?? '',
          heading: f.querySelector('h3')?.textContent ?? '',
          series: drawn.length,
          markers: f.querySelectorAll('circle').length,
          ticks: f.querySelectorAll('.tick-labels text').length,
          legend: f.querySelectorAll('.legend text').length,
          axisLabels: f.querySelectorAll('.axis-label').length,
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          longestPath: Math.max(0, ...drawn.map((el) => ((el as unknown as { getTotalLength?: () => number }).getTotalLength?.() ?? 0))),
        };
      }),
    );
    assert.deepEqual(charts.map((c) => c.key), ['net', 'roi', 'roc', 'pr', 'calibration', 'lift', 'distribution-0', 'distribution-1']);
    for (const c of charts) {
      assert.ok(c.series >= 2, `${c.key}: ${c.series} drawn series`);
      assert.ok(c.longestPath > 100, `${c.key}: curves have length on screen (${c.longestPath})`);
      assert.ok(c.ticks >= 6 && c.axisLabels === 2 && c.legend >= 2, `${c.key}: ticks ${c.ticks}, axis labels ${c.axisLabels}, legend ${c.legend}`);
      assert.ok(c.width > 300 && c.height > 150, `${c.key}: rendered at ${c.width}×${c.height}`);
      assert.ok(c.heading.length > 0);
    }
    for (const key of ['net', 'roi', 'roc', 'pr', 'calibration', 'lift']) assert.ok(charts.find((c) => c.key === key)!.markers >= 2, `${key} marks each model`);

    const summary = await page.textContent('#summary li.headline');
    assert.match(summary ?? '', /(wins on net value|tie on net value)/);
    assert.equal(await page.locator('table.models').count(), 1);
    assert.equal(await page.locator('table.business').count(), 2);

    mkdirSync(resolve('out'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(statSync(SCREENSHOT).size > 50_000, 'a screenshot with content');
    assert.deepEqual(requests, [], 'no request besides the file itself');
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await browser.close();
  }
});
