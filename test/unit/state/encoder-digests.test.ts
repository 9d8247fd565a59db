// The encoder's bytes on thousands of states beyond the golden fixture's (test/helpers/encoder-digests.ts
// says which), against digests written by main's encoder before session 9 made it faster: 2,000 seeded
// random states, 60 random mutation sequences of 40 steps, and simulated customers encoded after every
// batch of the engine's transition. encoder-golden.test.ts pins single states byte for byte; this
// covers many more shapes (every one in five encodings) at the cost of localising a difference to a group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { allDigestGroups, DIGEST_FILE, type DigestGroup } from '../../helpers/encoder-digests.js';

interface Fixture {
  random: DigestGroup[];
  mutations: DigestGroup[];
  simulated: DigestGroup[];
}

const fixture = JSON.parse(readFileSync(new URL(`../../../../${DIGEST_FILE}`, import.meta.url), 'utf8')) as Fixture;

test('encoder digests: random states, mutation sequences and simulated batches encode to the bytes main wrote', async () => {
  const now = await allDigestGroups();
  for (const part of ['random', 'mutations', 'simulated'] as const) {
    assert.equal(now[part].length, fixture[part].length, part);
    now[part].forEach((g, i) => {
      const expected = fixture[part][i]!;
      assert.equal(g.name, expected.name);
      assert.equal(g.input, expected.input, `${g.name}: the inputs changed (the generators or the simulator), not the encoder`);
      assert.equal(g.states, expected.states, g.name);
      assert.equal(g.bytes, expected.bytes, `${g.name}: bytes differ from main's encoder`);
    });
  }
});
