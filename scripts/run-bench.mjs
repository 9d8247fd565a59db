#!/usr/bin/env node
// Runs every benchmark (dist/bench/*.bench.js), or the ones named: `npm run bench -- scoring-batch`.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const wanted = process.argv.slice(2);
const all = readdirSync('dist/bench').filter((f) => f.endsWith('.bench.js')).map((f) => f.replace(/\.bench\.js$/, '')).sort();
const chosen = wanted.length ? wanted : all;
for (const name of chosen) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark '${name}'; available: ${all.join(', ')}`);
    process.exit(2);
  }
}
for (const name of chosen) {
  console.log(`\n### ${name}`);
  const res = spawnSync(process.execPath, [`dist/bench/${name}.bench.js`], { stdio: 'inherit' });
  if (res.status !== 0) process.exit(res.status ?? 1);
}
