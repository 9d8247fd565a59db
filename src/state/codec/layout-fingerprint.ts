// A state layout's short name: 32 bits of sha256 over its slots (id and merge) in layout order. A
// stored state (format 2) names the layout its columns follow by this fingerprint instead of listing
// its slot ids (≈100 bytes per customer with the default spec); a reader with another layout refuses
// it with CF_STATE_LAYOUT rather than read one slot's values as another's.
import { createHash } from 'node:crypto';
import { ChurnflowError } from '../../errors.js';
import type { SlotMerge } from '../slots.js';

/** The slots of a layout, in the order state columns follow. */
export type LayoutSlots = ReadonlyMap<string, SlotMerge>;

const cache = new WeakMap<LayoutSlots, { readonly fingerprint: number; readonly slots: readonly string[]; readonly index: ReadonlyMap<string, number> }>();

/** The layout's fingerprint, slot list and slot → column index (computed once per layout object). */
export function layoutInfo(merges: LayoutSlots): { readonly fingerprint: number; readonly slots: readonly string[]; readonly index: ReadonlyMap<string, number> } {
  let info = cache.get(merges);
  if (info === undefined) {
    const slots = [...merges.keys()];
    const digest = createHash('sha256').update(JSON.stringify([...merges])).digest();
    info = { fingerprint: digest.readUInt32LE(0), slots, index: new Map(slots.map((s, i) => [s, i])) };
    cache.set(merges, info);
  }
  return info;
}

/** A state written with another layout (another feature spec) than the reader's, or read without one. */
export function layoutError(customerId: string, stored: number, reader: number | undefined): ChurnflowError {
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return new ChurnflowError(
    'CF_STATE_LAYOUT',
    `customer ${customerId}: stored state was written with state layout ${hex(stored)}, ${reader === undefined ? 'and the reader has no layout' : `this engine's feature spec has layout ${hex(reader)}`}; ` +
      'a state follows the slots of the feature spec that wrote it: run the engine with that spec, or rebuild the state by replaying the activity topic from Kafka (docs/architecture.md "Stored format and rebuild")',
    { retriable: false },
  );
}
