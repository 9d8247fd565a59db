// docs/architecture.md "Runtime dependencies" says why each production dependency is there; a
// package added to (or dropped from) package.json without its row fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

test('docs/architecture.md "Runtime dependencies" has one row per package in dependencies, and no other', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Runtime dependencies'), doc.indexOf('\n## ', doc.indexOf('## Runtime dependencies') + 1));
  assert.ok(section.length > 0, 'the section exists');
  const rows = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual([...rows].sort(), Object.keys(pkg.dependencies).sort());
});
