#!/usr/bin/env node
// Runs compiled tests with node's own test runner. Suites: unit, topology, contract, integration, parity.
// Usage: node scripts/run-tests.mjs unit topology   (after `npm run build`)
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const suites = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const roots = (suites.length ? suites : ['unit']).map((s) => join('dist', 'test', s));

function collect(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(collect(p));
    // Only tests whose TypeScript source still exists: tsc never deletes stale output in dist/.
    else if (name.endsWith('.test.js') && existsSync(p.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts'))) out.push(p);
  }
  return out;
}

const files = roots.flatMap(collect);
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')} (did the build run?)`);
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-reporter=spec', ...passthrough, ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
