// Day buckets and the archive shared between a state and its copies (cloneState), without copying.
// A customer's bucket record is keyed by day number, which makes it a dictionary-mode object in V8:
// copying it (≈40–90 keys) cost more than everything else a batch does to the customer. So a copy
// takes the container over, and the original rebuilds its own container only if it is ever read again
// (a retried batch, a fenced write, a test), from the copy's container and the copy's undo journal —
// Baker's trick for persistent arrays. On the hot path (the store hands out the copy, then takes the
// written copy over), the original is never read again and nothing is copied. The archive (changed
// only when a day expires, about once a day) is shared and copied before its first change.
//
// Invariant this relies on: a state's bucket container changes only through ownBucket and
// forgetBucket, its archive only through ownArchive's result (applyDelta and expireBuckets), and a
// bucket object changes in place only where its state owns it.
import type { SlotValues } from './slots.js';

/** What a state knows about sharing. A state absent here (new, or decoded) owns everything it holds. */
interface Sharing {
  /** Days whose bucket object belongs to this state alone: merging into it in place changes no other state. */
  readonly owned: number[];
  /**
   * While the state this one was copied from may still rebuild its container from this one: pairs of
   * (day, the bucket it had before this state first changed it, undefined if absent). Arrays, not a
   * Set and a Map: a batch touches a day or two of a customer, and these are made for every copy.
   */
  undo: (number | SlotValues | undefined)[] | undefined;
  /** Whether the archive object belongs to this state alone. */
  archiveOwned: boolean;
}

interface Containers {
  buckets: Record<string, SlotValues>;
  archive: SlotValues;
}

const sharing = new WeakMap<Containers, Sharing>();

/** The state's bucket of `day`, created or copied so that merging into it changes no other state. */
export function ownBucket(state: Containers, day: number): SlotValues {
  const s = sharing.get(state);
  const bucket = state.buckets[day];
  if (bucket !== undefined && (s === undefined || s.owned.includes(day))) return bucket;
  if (s !== undefined) {
    s.owned.push(day);
    journal(s, day, bucket);
  }
  return (state.buckets[day] = bucket === undefined ? {} : { ...bucket });
}

/** Removes a day's bucket (expiry), journalled like ownBucket's changes. */
export function forgetBucket(state: Containers, day: number): void {
  const s = sharing.get(state);
  if (s !== undefined) journal(s, day, state.buckets[day]);
  delete state.buckets[day];
}

/** The state's archive, copied first if it is shared, so that merging into it changes no other state. */
export function ownArchive(state: Containers): SlotValues {
  const s = sharing.get(state);
  if (s === undefined || s.archiveOwned) return state.archive;
  s.archiveOwned = true;
  return (state.archive = { ...state.archive });
}

/** Records a day's value before this state's first change of it, while the original may need it. */
function journal(s: Sharing, day: number, before: SlotValues | undefined): void {
  const undo = s.undo;
  if (undo === undefined) return;
  for (let k = 0; k < undo.length; k += 2) if (undo[k] === day) return;
  undo.push(day, before);
}

/**
 * Gives `copy` the original's bucket container and archive (copy must have been built with
 * `buckets: original.buckets, archive: original.archive`) and leaves the original a container that is
 * rebuilt on its first read. Both own no bucket object and no archive from here on: each copies one
 * before its first change.
 */
export function shareContainers(original: Containers, copy: Containers): void {
  const undo: (number | SlotValues | undefined)[] = [];
  sharing.set(copy, { owned: [], undo, archiveOwned: false });
  const own = sharing.get(original);
  if (own !== undefined) {
    own.owned.length = 0;
    own.archiveOwned = false;
  } else sharing.set(original, { owned: [], undo: undefined, archiveOwned: false });
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
      for (let k = 0; k < undo.length; k += 2) {
        const day = undo[k] as number;
        const before = undo[k + 1] as SlotValues | undefined;
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
