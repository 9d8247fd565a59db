// Day buckets and the archive shared between a state and its copies (cloneState), without copying.
// A customer's bucket record is keyed by day number, which makes it a dictionary-mode object in V8:
// copying it (≈40–90 keys) cost more than everything else a batch does to the customer. So a copy
// takes the container over, and the original rebuilds its own container only if it is ever read again
// (a retried batch, a fenced write, a test), from the copy's container and the copy's undo journal —
// Baker's trick for persistent arrays. On the hot path (the store hands out the copy, then takes the
// written copy over), the original is never read again and nothing is copied. The archive (changed
// only when a day expires, about once a day) is shared and copied before its first change.
//
// A store that keeps its states to itself needs no copy at all: checkOut lets a batch change the stored
// state in place, with the same copy-before-first-change of each day journalled, and undoes it if the
// batch is dropped (rollBack). The memory store does this: a replay's batch loads nearly one customer
// per event, and a copy per load (lendContainers, with the original on loan until rebuilt) made a
// second state, a loan and a WeakMap entry each time; the checkout took 0.5 µs of CPU an event off
// the features path's ≈7.9 and 0.4 off replay's ≈19 (session 22, docs/architecture.md "Performance
// notes").
//
// Invariant this relies on: a state's bucket container changes only through ownBucket and
// forgetBucket, its archive only through ownArchive's result (applyDelta and expireBuckets), and a
// bucket object changes in place only where its state owns it; a state on loan is read or changed
// only after reclaimContainers; a checked-out state's changes are journalled until keepChanges or rollBack.
import type { BucketListener, SlotValues } from './slots.js';

/**
 * What a state knows about sharing, and its bucket listener (src/state/slots.ts): one map entry per
 * state, so a copy costs one WeakMap entry, not one here and one for its listener. A state absent
 * here (new, or decoded) owns everything it holds and has no listener.
 *
 * Its lists start as NONE and are made with their first entry ([day], [day, before]): a batch changes
 * a day or two of a customer, and an empty literal grown by push gets a backing store of 17–19 slots,
 * kept with the written state (so promoted) for nearly every customer of every batch.
 */
interface Sharing {
  /**
   * Days whose bucket object belongs to this state alone: merging into it in place changes no other
   * state. null: every day (a state that was never copied, here only for its listener).
   */
  owned: readonly number[] | null;
  /**
   * While the state this one was copied from may still rebuild its container from this one: pairs of
   * (day, the bucket it had before this state first changed it, undefined if absent). Arrays, not a
   * Set and a Map: a batch touches a day or two of a customer, and these are made for every copy.
   * Kept in the loan, where the original reads them.
   */
  undo: Loan | undefined;
  /** Whether the archive object belongs to this state alone. */
  archiveOwned: boolean;
  /** This state's container went to `copy` (lendContainers) and is rebuilt by reclaimContainers before it is read again. */
  lent: Loan | undefined;
  /** The derived data that follows this state's bucket changes (window totals), if any. */
  listener: BucketListener | undefined;
}

/**
 * A container lent to a copy: the copy's container minus the copy's journalled changes is the original's.
 * A checkout (checkOut) is a loan of a state to itself: `copy` is the state, and `archive` the archive it
 * held when checked out.
 */
interface Loan {
  readonly copy: Containers;
  undo: readonly (number | SlotValues | undefined)[];
  readonly archive?: SlotValues;
}

/** An empty owned-days or undo list, never changed: replaced by a new array at the first entry. */
const NONE: readonly never[] = Object.freeze([]);

interface Containers {
  buckets: Record<string, SlotValues>;
  archive: SlotValues;
}

const sharing = new WeakMap<Containers, Sharing>();

/**
 * The last state looked up and its entry: applying an event asks for the same state's entry two or
 * three times (its bucket, its listener, the feature row's totals), each a WeakMap lookup otherwise.
 * Every write of the map goes through setSharing, which keeps this in step.
 */
let lastKey: Containers | undefined;
let lastEntry: Sharing | undefined;

function sharingOf(state: Containers): Sharing | undefined {
  if (state === lastKey) return lastEntry;
  const s = sharing.get(state);
  lastKey = state;
  lastEntry = s;
  return s;
}

function setSharing(state: Containers, s: Sharing): void {
  sharing.set(state, s);
  lastKey = state;
  lastEntry = s;
}

/**
 * The state's bucket of `day`, created or copied so that merging into it changes no other state.
 * `bucket` is `state.buckets[day]` as the caller read it (applyDelta reads it anyway: one dictionary
 * lookup, not two).
 */
export function ownBucket(state: Containers, day: number, bucket: SlotValues | undefined): SlotValues {
  const s = sharingOf(state);
  const owned = s?.owned;
  if (bucket !== undefined && (owned === undefined || owned === null || owned.includes(day))) return bucket;
  if (s !== undefined && owned) {
    if (owned.length === 0) s.owned = [day];
    else (owned as number[]).push(day);
    journal(s, day, bucket);
  }
  return (state.buckets[day] = bucket === undefined ? {} : { ...bucket });
}

/** Removes a day's bucket (expiry), journalled like ownBucket's changes. */
export function forgetBucket(state: Containers, day: number): void {
  const s = sharingOf(state);
  if (s !== undefined) journal(s, day, state.buckets[day]);
  delete state.buckets[day];
}

/** The state's archive, copied first if it is shared, so that merging into it changes no other state. */
export function ownArchive(state: Containers): SlotValues {
  const s = sharingOf(state);
  if (s === undefined || s.archiveOwned) return state.archive;
  s.archiveOwned = true;
  return (state.archive = { ...state.archive });
}

/** Records a day's value before this state's first change of it, while the original may need it. */
function journal(s: Sharing, day: number, before: SlotValues | undefined): void {
  const loan = s.undo;
  if (loan === undefined) return;
  const undo = loan.undo;
  if (undo.length === 0) {
    loan.undo = [day, before];
    return;
  }
  for (let k = 0; k < undo.length; k += 2) if (undo[k] === day) return;
  (undo as (number | SlotValues | undefined)[]).push(day, before);
}

/**
 * Gives `copy` the original's bucket container and archive (copy must have been built with
 * `buckets: original.buckets, archive: original.archive`, from an original not on loan) and puts the
 * original on loan: its `buckets` is the copy's container until reclaimContainers rebuilds its own.
 * Both own no bucket object and no archive from here on: each copies one before its first change.
 */
export function lendContainers(original: Containers, copy: Containers): void {
  const own = sharingOf(original);
  // The listener moves to the copy: the copy is the one a batch changes (a store hands out copies and
  // takes the written one over). The original keeps exact reads: without a listener, its next read
  // rebuilds its window totals from its buckets. Moving costs nothing; copying them would allocate.
  const lent: Loan = { copy, undo: NONE };
  setSharing(copy, { owned: NONE, undo: lent, archiveOwned: false, lent: undefined, listener: own?.listener });
  if (own !== undefined) {
    own.owned = NONE;
    own.archiveOwned = false;
    own.lent = lent;
    own.listener = undefined;
  } else setSharing(original, { owned: NONE, undo: undefined, archiveOwned: false, lent, listener: undefined });
}

/** The state's bucket listener (see slots.ts). */
export function listenerOf(state: object): BucketListener | undefined {
  return sharingOf(state as Containers)?.listener;
}

/** Sets or drops the state's bucket listener. */
export function setListenerOf(state: object, listener: BucketListener | undefined): void {
  const s = sharingOf(state as Containers);
  if (s !== undefined) s.listener = listener;
  else if (listener !== undefined) setSharing(state as Containers, { owned: null, undo: undefined, archiveOwned: true, lent: undefined, listener });
}

/** Whether the state's container is on loan (lendContainers): it must be reclaimed before it is read. */
export function onLoan(state: Containers): boolean {
  return sharingOf(state)?.lent !== undefined;
}

/**
 * Rebuilds a state's own container after lendContainers: the copy's container now (the copy itself
 * reclaimed first if it lent its own on), minus the copy's journalled changes. Untouched days stay
 * shared. No-op for a state not on loan.
 */
export function reclaimContainers(original: Containers): void {
  const s = sharingOf(original);
  const loan = s?.lent;
  if (s === undefined || loan === undefined) return;
  s.lent = undefined;
  reclaimContainers(loan.copy);
  const buckets = { ...loan.copy.buckets };
  undoInto(buckets, loan.undo);
  original.buckets = buckets;
  endLoan(loan);
}

/** The copy's later changes no longer concern the original: stop journalling them. */
function endLoan(loan: Loan): void {
  const c = sharingOf(loan.copy);
  if (c !== undefined && c.undo === loan) c.undo = undefined;
}

/**
 * Checks a state out to a batch that changes it in place and may be dropped (the memory store's loads):
 * from here each day's bucket is copied before its first change and the day journalled, and the archive
 * copied before its first change, as for a copy — but in the state's own container. Nothing is copied
 * up front, no second state is made, and the state keeps its listener (window totals) and what is
 * cached per container (the expiry floor, the budget estimate). keepChanges ends the checkout at a
 * write, rollBack at a drop; committedContainers reads what it held at checkOut meanwhile. A state on
 * loan is reclaimed first; a state checked out again without either is not: roll it back first.
 */
export function checkOut(state: Containers): void {
  reclaimContainers(state);
  const loan: Loan = { copy: state, undo: NONE, archive: state.archive };
  const s = sharingOf(state);
  if (s === undefined) setSharing(state, { owned: NONE, undo: loan, archiveOwned: false, lent: undefined, listener: undefined });
  else {
    s.owned = NONE;
    s.undo = loan;
    s.archiveOwned = false;
  }
}

/** The state's checkout (checkOut), if it is checked out. */
function checkoutOf(state: Containers): { s: Sharing; loan: Loan } | undefined {
  const s = sharingOf(state);
  const loan = s?.undo;
  return s !== undefined && loan !== undefined && loan.copy === state ? { s, loan } : undefined;
}

/**
 * Ends a checkout keeping its changes. The state still owns no bucket object and not its archive: a read
 * made during the checkout (committedContainers) shares the untouched ones, so a change outside a
 * checkout copies first too (the memory store makes none).
 */
export function keepChanges(state: Containers): void {
  const c = checkoutOf(state);
  if (c !== undefined) endCheckout(c.s);
}

/**
 * Ends a checkout undoing its changes: the container's days and the archive are those of checkOut again
 * (each changed day's bucket object was replaced by a copy, so the originals are intact). The listener
 * followed the undone changes and is dropped: the next read rebuilds it.
 */
export function rollBack(state: Containers): void {
  const c = checkoutOf(state);
  if (c === undefined) return;
  undoInto(state.buckets, c.loan.undo);
  state.archive = c.loan.archive!;
  endCheckout(c.s); // as after keepChanges: reads made meanwhile share the restored objects
  c.s.listener = undefined;
}

/** No journal any more; still no bucket object or archive owned (see keepChanges). */
function endCheckout(s: Sharing): void {
  s.owned = NONE;
  s.undo = undefined;
  s.archiveOwned = false;
}

/** A checked-out state's container and archive as they were at checkOut: a new container, the bucket objects shared. */
export function committedContainers(state: Containers): Containers {
  const c = checkoutOf(state);
  const buckets = { ...state.buckets };
  if (c === undefined) return { buckets, archive: state.archive };
  undoInto(buckets, c.loan.undo);
  return { buckets, archive: c.loan.archive! };
}

/** Marks a state as owning none of its bucket objects and not its archive (another state shares them): it copies each before changing it. */
export function ownNothing(state: Containers): void {
  setSharing(state, { owned: NONE, undo: undefined, archiveOwned: false, lent: undefined, listener: undefined });
}

function undoInto(buckets: Record<string, SlotValues>, undo: readonly (number | SlotValues | undefined)[]): void {
  for (let k = 0; k < undo.length; k += 2) {
    const day = undo[k] as number;
    const before = undo[k + 1] as SlotValues | undefined;
    if (before === undefined) delete buckets[day];
    else buckets[day] = before;
  }
}

/**
 * lendContainers for an original that others may still read: its `buckets` becomes a getter that
 * reclaims the container on the first read (and a setter that ends the loan), so a reader never sees
 * the copy's container.
 */
export function shareContainers(original: Containers, copy: Containers): void {
  lendContainers(original, copy);
  const settle = (buckets: Record<string, SlotValues>): void => {
    Object.defineProperty(original, 'buckets', { value: buckets, writable: true, enumerable: true, configurable: true });
  };
  Object.defineProperty(original, 'buckets', {
    enumerable: true,
    configurable: true,
    get(): Record<string, SlotValues> {
      settle(copy.buckets); // a plain property again; reclaimContainers assigns the rebuilt container to it
      reclaimContainers(original);
      return original.buckets;
    },
    set(buckets: Record<string, SlotValues>) {
      settle(buckets);
      const s = sharingOf(original);
      const loan = s?.lent;
      if (s !== undefined && loan !== undefined) {
        s.lent = undefined;
        endLoan(loan);
      }
    },
  });
}
