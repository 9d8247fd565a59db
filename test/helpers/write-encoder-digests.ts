// Writes test/fixtures/state/encoder-digests.json (see encoder-digests.ts) with the encoder as built:
// run it only with an encoder known to be right (it was written with main's encoder before session 9's
// changes to it). Usage: npm run build && node dist/test/helpers/write-encoder-digests.js
import { writeFileSync } from 'node:fs';
import { allDigestGroups, DIGEST_FILE } from './encoder-digests.js';

const groups = await allDigestGroups();
const fixture = { note: "Digests of encodeCustomer's bytes, written by main's encoder (test/helpers/write-encoder-digests.ts); test/unit/state/encoder-digests.test.ts re-encodes and compares.", ...groups };
writeFileSync(DIGEST_FILE, JSON.stringify(fixture, null, 1) + '\n');
console.log(`wrote ${DIGEST_FILE}: ${groups.random.length} random, ${groups.mutations.length} mutation, ${groups.simulated.length} simulated groups`);
