#!/usr/bin/env node
// npm run example -- NAME: builds, then runs examples/NAME/run.sh (the examples that have one).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const runnable = readdirSync('examples').filter((d) => existsSync(join('examples', d, 'run.sh')));
const name = process.argv[2];
if (!name || !runnable.includes(name)) {
  console.error(`usage: npm run example -- NAME   (NAME: ${runnable.join(', ')})`);
  process.exit(2);
}
const res = spawnSync('bash', [join('examples', name, 'run.sh')], { stdio: 'inherit' });
process.exit(res.status ?? 1);
