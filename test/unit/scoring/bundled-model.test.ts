import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLED_MODEL, BUNDLED_MODEL_NAME, BUNDLED_MODEL_VERSION, BUNDLED_REGISTRY_DIR } from '../../../src/scoring/bundled-model.js';
import { readManifest } from '../../../src/scoring/model-bundle.js';

test('BUNDLED_MODEL is what the committed registry\'s production alias points at', async () => {
  const aliases = JSON.parse(readFileSync(join(BUNDLED_REGISTRY_DIR, BUNDLED_MODEL_NAME, 'aliases.json'), 'utf8')) as { aliases: { production?: string } };
  assert.equal(aliases.aliases.production, BUNDLED_MODEL_VERSION);
  const m = await readManifest(BUNDLED_MODEL);
  assert.deepEqual([m.name, m.version], [BUNDLED_MODEL_NAME, BUNDLED_MODEL_VERSION]);
});
