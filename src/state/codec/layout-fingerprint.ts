// A state layout's short name: 32 bits of sha256 over its slots (id and merge) in layout order. A
// stored state (format 2) names the layout its columns follow by this fingerprint instead of listing
// its slot ids (≈100 bytes per customer with the default spec). The layout itself is registered once
// beside the states (layoutText: the very text the fingerprint hashes; the Redis store keeps it at
// `<prefix>layout:<fingerprint hex>`), so a reader with another feature spec resolves the fingerprint
// to the writer's slots and maps them by id; only a fingerprint nobody can resolve is refused with
// CF_STATE_LAYOUT rather than read one slot's values as another's.
import { createHash } from 'node:crypto';
import { ChurnflowError } from '../../errors.js';
import type { SlotMerge } from '../slots.js';
import { formatError } from './byte-io.js';

/** The slots of a layout, in the order state columns follow. */
export type LayoutSlots = ReadonlyMap<string, SlotMerge>;

/** The layout registered under a fingerprint, or undefined when the reader does not know it (yet). Synchronous: the store fetches first. */
export type LayoutResolver = (fingerprint: number) => LayoutSlots | undefined;

const MERGES: ReadonlySet<string> = new Set<SlotMerge>(['add', 'max', 'min', 'last', 'bits']);

/** The text a layout is registered as: its slots and merges in order, the same text its fingerprint hashes. */
export function layoutText(merges: LayoutSlots): string {
  return JSON.stringify([...merges]);
}

/** A fingerprint as the 8 hex digits of error messages and registry keys. */
export function fingerprintHex(fingerprint: number): string {
  return fingerprint.toString(16).padStart(8, '0');
}

/**
 * The layout registered as `text` under `fingerprint`. Text that is not a slot list, or whose
 * fingerprint is another (a key overwritten by hand), fails with CF_STATE_FORMAT: decoding columns
 * with the wrong slots would give one slot's values to another.
 */
export function parseLayoutText(fingerprint: number, text: string): LayoutSlots {
  const what = `state layout ${fingerprintHex(fingerprint)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw formatError(what, 'registered layout is not JSON');
  }
  const valid = Array.isArray(parsed) && parsed.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string' && MERGES.has(e[1]));
  if (!valid) throw formatError(what, 'registered layout is not a list of [slot id, merge] pairs');
  const merges = new Map(parsed as [string, SlotMerge][]);
  if (layoutInfo(merges).fingerprint !== fingerprint) throw formatError(what, `registered layout has fingerprint ${fingerprintHex(layoutInfo(merges).fingerprint)}`);
  return merges;
}

const cache = new WeakMap<LayoutSlots, { readonly fingerprint: number; readonly slots: readonly string[]; readonly index: ReadonlyMap<string, number> }>();

/** The layout's fingerprint, slot list and slot → column index (computed once per layout object). */
export function layoutInfo(merges: LayoutSlots): { readonly fingerprint: number; readonly slots: readonly string[]; readonly index: ReadonlyMap<string, number> } {
  let info = cache.get(merges);
  if (info === undefined) {
    const slots = [...merges.keys()];
    const digest = createHash('sha256').update(layoutText(merges)).digest();
    info = { fingerprint: digest.readUInt32LE(0), slots, index: new Map(slots.map((s, i) => [s, i])) };
    cache.set(merges, info);
  }
  return info;
}

/** A state written with another layout (another feature spec) than the reader's that the reader cannot resolve (not registered, or deleted), or read without a layout. */
export function layoutError(customerId: string, stored: number, reader: number | undefined): ChurnflowError {
  const hex = fingerprintHex;
  return new ChurnflowError(
    'CF_STATE_LAYOUT',
    `customer ${customerId}: stored state was written with state layout ${hex(stored)}, ${reader === undefined ? 'and the reader has no layout' : `this engine's feature spec has layout ${hex(reader)}`}, and layout ${hex(stored)} is not registered (its layout key is missing); ` +
      'a state follows the slots of the feature spec that wrote it: run the engine with that spec, or rebuild the state by replaying the activity topic from Kafka (docs/architecture.md "Stored format and rebuild")',
    { retriable: false },
  );
}
