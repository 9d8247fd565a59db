// Day buckets shared between a state and its copies (cloneState), without copying the container.
// A customer's bucket record is keyed by day number, which makes it a dictionary-mode object in V8:
// copying it (≈40–90 keys) cost more than everything else a batch does to the customer. So a copy
// takes the container over, and the original rebuilds its own container only if it is ever read again
// (a retried batch, a fenced write, a test), from the copy's container and the copy's undo journal —
// Baker's trick for persistent arrays. On the hot path (the store hands out the copy, then takes the
// written copy over), the original is never read again and nothing is copied.
//
// Invariant this relies on: a state's container changes only through ownBucket and forgetBucket
// (applyDelta and expireBuckets); a bucket object changes in place only where its state owns it.
import type { SlotValues } from './slots.js';

/** What a state knows about sharing. A state absent here (new, or decoded) owns all its buckets. */
interface Sharing {
  /** Days whose bucket object belongs to this state alone: merging into it in place changes no other state. */
  owned: Set<number>;
  /**
   * While the state this one was copied from may still rebuild its container from this one: the value
   * each day had before this state first changed it (undefined: the day was absent).
   */
  undo: Map<number, SlotValues | undefined> | undefined;
}

interface HasBuckets {
  buckets: Record<string, SlotValues>;
}

const sharing = new WeakMap<HasBuckets, Sharing>();

/** The state's bucket of `day`, created or copied so that merging into it changes no other state. */
export function ownBucket(state: HasBuckets, day: number): SlotValues {
  const s = sharing.get(state);
  const bucket = state.buckets[day];
  if (bucket !== undefined && (s === undefined || s.owned.has(day))) return bucket;
  if (s !== undefined) {
    s.owned.add(day);
    if (s.undo !== undefined && !s.undo.has(day)) s.undo.set(day, bucket);
  }
  return (state.buckets[day] = bucket === undefined ? {} : { ...bucket });
}

/** Removes a day's bucket (expiry), journalled like ownBucket's changes. */
export function forgetBucket(state: HasBuckets, day: number): void {
  const s = sharing.get(state);
  if (s?.undo !== undefined && !s.undo.has(day)) s.undo.set(day, state.buckets[day]);
  delete state.buckets[day];
}

/**
 * Gives `copy` the original's bucket container (copy must have been built with `buckets: original.buckets`)
 * and leaves the original a container that is rebuilt on its first read. Both own no bucket object from
 * here on: each copies a bucket before its first merge into it.
 */
export function moveBuckets(original: HasBuckets, copy: HasBuckets): void {
  const undo = new Map<number, SlotValues | undefined>();
  sharing.set(copy, { owned: new Set(), undo });
  const own = sharing.get(original);
  if (own !== undefined) own.owned.clear();
  else sharing.set(original, { owned: new Set(), undo: undefined });
  const settle = (buckets: Record<string, SlotValues>): void => {
    Object.defineProperty(original, 'buckets', { value: buckets, writable: true, enumerable: true, configurable: true });
    // The copy's later changes no longer concern the original.
    const c = sharing.get(copy);
    if (c !== undefined && c.undo === undo) c.undo = undefined;
  };
  Object.defineProperty(original, 'buckets', {
    enumerable: true,
    configurable: true,
    get(): Record<string, SlotValues> {
      // The copy's container now (itself rebuilt first if the copy was copied on), minus the copy's changes.
      const buckets = { ...copy.buckets };
      for (const [day, before] of undo) {
        if (before === undefined) delete buckets[day];
        else buckets[day] = before;
      }
      settle(buckets);
      return buckets;
    },
    set(buckets: Record<string, SlotValues>) {
      settle(buckets);
    },
  });
}
