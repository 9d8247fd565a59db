// One customer's aggregate state and the pure transition that applies an event's delta to it.
// Both stores use applyDelta (the Redis Lua script mirrors it), and idempotency lives here, in the
// customer's own state, so it holds wherever the customer's state lives.
import { DAY_MS, type SourcePosition } from '../events/activity-event.js';
import type { Scalar } from '../events/activity-event.js';
import { bucketListener, mergeOp, mergeSlotValues, setBucketListener, type SlotMerge, type SlotOp, type SlotValues } from './slots.js';
import { encodeCustomer } from './codec/customer-codec.js';
import { checkOut, committedContainers, forgetBucket, keepChanges, ownArchive, ownBucket, ownNothing, reclaimContainers, rollBack, shareContainers } from './shared-buckets.js';

/**
 * The customer's last published risk: what the emit rule compares a new score with (src/scoring/emit-rule.ts)
 * and what the current-risk view shows (the compacted topic and the HTTP lookup).
 */
export interface LastScore {
  readonly score: number;
  /** The band the customer is in (with hysteresis: it may differ from the raw band of `score`'s neighbours). */
  readonly band: string;
  readonly modelName: string;
  readonly modelVersion: string;
  /** Event time of the event that triggered the published score: the cooldown runs from here. */
  readonly eventTime: number;
  /** The risk event that published it. */
  readonly riskEventId: string;
}

export interface CustomerState {
  readonly customerId: string;
  /** Day index (floor(eventTime / DAY_MS)) → slot values of that day. */
  buckets: Record<string, SlotValues>;
  /** Everything older than the retained buckets, merged: keeps recency and "last" values forever in O(1). */
  archive: SlotValues;
  /** Highest event time applied; drives bucket expiry. */
  maxEventTime: number;
  /** Per source stream, the highest offset applied: a redelivered record is recognised and not applied twice. */
  positions: Record<string, number>;
  lastScore: LastScore | null;
  /** The shadow model's last published score (its own emit memory; absent when no shadow ever ran). */
  shadowScore?: LastScore | null;
  /**
   * Decisions stored with the state change that produced them, keyed by source position
   * (`outboxKey`): a redelivered event re-emits these bytes instead of recomputing from a state that
   * has moved on. Entries are deleted once their offset is committed (outbox-trimmer.ts, right after the
   * commit; trimOutbox at the next write for any left). The payload is
   * opaque to the stores (src/scoring/stored-decision.ts writes and reads it).
   */
  outbox: Record<string, string>;
  /**
   * Content-duplicate guard: [hash of event_id, event time] of the events applied within the dedupe
   * horizon, oldest first. An event_id seen again at another position changes nothing.
   */
  recentEvents: [number, number][];
}

export interface StateDelta {
  readonly customerId: string;
  readonly eventId: string;
  readonly eventTime: number;
  readonly position: SourcePosition;
  readonly ops: readonly SlotOp[];
  /** A 'last' slot holding the customer's signup time: the delta is refused if the event is older than it. */
  readonly signupSlot?: string;
}

/**
 * applied; duplicate: a redelivery of an applied position; duplicate_event: an event_id already applied
 * at another position (a producer retry) — nothing changes but the position; before_signup: refused.
 */
export type ApplyOutcome = 'applied' | 'duplicate' | 'duplicate_event' | 'before_signup';

export interface StateLayout {
  /** Buckets older than this many days before the customer's latest event are folded into the archive. */
  readonly retentionDays: number;
  readonly merges: ReadonlyMap<string, SlotMerge>;
}

/** How long, and how many, event ids a customer remembers to recognise content duplicates. */
export interface DedupeOptions {
  /** Ids of events older than the customer's latest event time minus this are forgotten. 0 turns dedupe off. */
  readonly horizonMs: number;
  /** At most this many ids per customer (the oldest go first): bounds the memory a busy customer costs. */
  readonly maxIds: number;
}

export const DEFAULT_DEDUPE: DedupeOptions = Object.freeze({ horizonMs: 3_600_000, maxIds: 64 });

export function emptyState(customerId: string): CustomerState {
  return { customerId, buckets: {}, archive: {}, maxEventTime: 0, positions: {}, lastScore: null, outbox: {}, recentEvents: [] };
}

/** Whether the state holds any outbox entry (without listing its keys). */
export function hasOutboxEntries(state: Readonly<CustomerState>): boolean {
  for (const _ in state.outbox) return true;
  return false;
}

/** The outbox key of a source position. */
export function outboxKey(position: SourcePosition): string {
  return `${position.stream}@${position.offset}`;
}

/** The stream of an outbox key: everything before its last '@' (a file stream's name may hold one). */
export function outboxKeyStream(key: string): string {
  return key.slice(0, key.lastIndexOf('@'));
}

/** The offset of an outbox key. */
export function outboxKeyOffset(key: string): number {
  return Number(key.slice(key.lastIndexOf('@') + 1));
}

/**
 * Drops outbox entries whose offset is below the committed offset of their stream: those records are
 * never redelivered (a consumer resumes at the committed offset), so their decisions are never needed.
 */
export function trimOutbox(state: CustomerState, committed: ReadonlyMap<string, number>): void {
  for (const key in state.outbox) if (isCommittedKey(key, committed)) delete state.outbox[key];
}

/** Whether an outbox key's offset lies below the committed offset of its stream. */
export function isCommittedKey(key: string, committed: ReadonlyMap<string, number>): boolean {
  const below = committed.get(outboxKeyStream(key));
  return below !== undefined && outboxKeyOffset(key) < below;
}

/** A 53-bit hash of an event id (cyrb53): ids are kept as numbers, a few bytes each, not as strings. */
export function eventIdHash(id: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export function dayOf(timeMs: number): number {
  return Math.floor(timeMs / DAY_MS);
}

export function isDuplicate(state: CustomerState, position: SourcePosition): boolean {
  const applied = state.positions[position.stream];
  return applied !== undefined && position.offset <= applied;
}

/** Latest value of a 'last' slot across buckets and archive. */
export function lastSlotValue(state: CustomerState, slot: string): Scalar | undefined {
  let best = state.archive[slot] as readonly [number, Scalar] | undefined;
  for (const key in state.buckets) {
    const v = state.buckets[key]![slot] as readonly [number, Scalar] | undefined;
    if (v !== undefined && (best === undefined || v[0] > best[0])) best = v;
  }
  return best?.[1];
}

function seenRecently(state: CustomerState, hash: number): boolean {
  const recent = state.recentEvents;
  for (let i = 0; i < recent.length; i++) if (recent[i]![0] === hash) return true; // indexed: no iterator per event
  return false;
}

/** Remembers an applied event's id, then forgets ids past the horizon and beyond the cap. */
function rememberEvent(state: CustomerState, hash: number, eventTime: number, dedupe: DedupeOptions): void {
  const recent = state.recentEvents;
  const oldest = state.maxEventTime - dedupe.horizonMs;
  const n = recent.length;
  // The list as if the id were appended first, then (when its first entry is past the horizon) the
  // entries past it dropped. In place (the array is this state's own: cloneState copies it), keeping
  // the order: no array per event. The new entry takes a dropped one's place instead of being pushed
  // first: a state's list is copied at its exact length every batch, and a push onto it allocated a
  // backing store of ≈18 slots that the written state kept.
  if ((n > 0 ? recent[0]![1] : eventTime) < oldest) {
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const entry = recent[i]!;
      if (entry[1] >= oldest) recent[kept++] = entry;
    }
    if (eventTime >= oldest) {
      if (kept < n) recent[kept] = [hash, eventTime];
      else recent.push([hash, eventTime]);
      kept++;
    }
    recent.length = kept;
  } else recent.push([hash, eventTime]);
  if (recent.length > dedupe.maxIds) {
    // In place too: splice would return an array of the dropped entries.
    const drop = recent.length - dedupe.maxIds;
    recent.copyWithin(0, drop);
    recent.length = dedupe.maxIds;
  }
}

/**
 * Applies a delta in place unless its source position was already applied, its event_id was applied
 * within the dedupe horizon, or the event predates the customer's signup. A refused delta still
 * advances the position, so a redelivery is not re-judged.
 */
export function applyDelta(state: CustomerState, delta: StateDelta, layout: StateLayout, dedupe: DedupeOptions = DEFAULT_DEDUPE): ApplyOutcome {
  if (isDuplicate(state, delta.position)) return 'duplicate';
  const hash = dedupe.horizonMs > 0 && dedupe.maxIds > 0 ? eventIdHash(delta.eventId) : undefined;
  if (hash !== undefined && seenRecently(state, hash)) {
    state.positions[delta.position.stream] = delta.position.offset;
    return 'duplicate_event';
  }
  // Validation guarantees a signup time is never after the event that carried it (<= maxEventTime), so
  // only an event older than the newest one seen can predate signup: the bucket scan stays off the hot path.
  if (delta.signupSlot !== undefined && delta.eventTime < state.maxEventTime) {
    const signup = lastSlotValue(state, delta.signupSlot);
    if (typeof signup === 'number' && delta.eventTime < signup) {
      state.positions[delta.position.stream] = delta.position.offset;
      return 'before_signup';
    }
  }
  const dayNumber = dayOf(delta.eventTime);
  // The budget estimate's bucket sum (if one was taken of this container) follows the changed day.
  // Taken before the merges: an owned bucket is changed in place.
  const estimate = estimatesTaken ? bucketsEstimate.get(state.buckets) : undefined;
  // One lookup of the day's bucket (a dictionary-mode container): the estimate, the floor and ownBucket share it.
  const existing = state.buckets[dayNumber];
  const previous = estimate === undefined ? undefined : existing;
  const estimateBefore = previous === undefined ? 0 : bucketEstimate(String(dayNumber), previous);
  if (existing === undefined) lowerExpiryFloor(state.buckets, dayNumber);
  const bucket = ownBucket(state, dayNumber, existing);
  // Derived window totals (if any) follow each op, so the next feature row costs O(ops), not O(buckets).
  const listener = bucketListener(state);
  const ops = delta.ops;
  if (listener === undefined) for (let k = 0; k < ops.length; k++) mergeOp(bucket, ops[k]!);
  else {
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k]!;
      const before = bucket[op.slot];
      mergeOp(bucket, op);
      listener.merged(dayNumber, op, before, bucket[op.slot]!);
    }
  }
  if (estimate !== undefined) {
    bucketsEstimate.set(state.buckets, estimate - estimateBefore + bucketEstimate(String(dayNumber), bucket));
  }
  state.positions[delta.position.stream] = delta.position.offset;
  if (delta.eventTime > state.maxEventTime) {
    // Expiry depends on the day of the latest event only: within the same day nothing new can expire.
    const dayMoved = dayOf(state.maxEventTime) !== dayNumber;
    state.maxEventTime = delta.eventTime;
    if (dayMoved) expireBuckets(state, layout);
  } else if (dayOf(delta.eventTime) < dayOf(state.maxEventTime) - layout.retentionDays) {
    // A very late event for an already expired day goes straight to the archive.
    expireBuckets(state, layout);
  }
  if (hash !== undefined) rememberEvent(state, hash, delta.eventTime, dedupe);
  return 'applied';
}

export function expireBuckets(state: CustomerState, layout: StateLayout): void {
  const oldestKept = dayOf(state.maxEventTime) - layout.retentionDays;
  const container = state.buckets;
  let floor = expiryFloors.get(container);
  if (floor === undefined) floor = lowestDay(container);
  if (floor >= oldestKept) {
    expiryFloors.set(container, floor);
    return; // nothing older than the kept days: no key listed, no bucket visited
  }
  // Ascending days either way (integer keys list in ascending order): the archive merges in the same
  // order as before, so float sums and 'last' ties come out the same.
  if (oldestKept - floor <= MAX_FLOOR_WALK) {
    for (let day = floor; day < oldestKept; day++) {
      const bucket = container[day];
      if (bucket !== undefined) expireDay(state, layout, day, bucket);
    }
  } else {
    for (const key of Object.keys(container)) if (Number(key) < oldestKept) expireDay(state, layout, Number(key), container[key]!);
  }
  expiryFloors.set(container, oldestKept);
}

/** Folds one day's bucket into the archive and drops it (the window totals and the budget estimate follow). */
function expireDay(state: CustomerState, layout: StateLayout, day: number, bucket: SlotValues): void {
  const listener = bucketListener(state);
  if (listener !== undefined && !listener.expiring(day)) setBucketListener(state, undefined);
  mergeSlotValues(ownArchive(state), bucket, layout.merges);
  const estimate = estimatesTaken ? bucketsEstimate.get(state.buckets) : undefined;
  if (estimate !== undefined) bucketsEstimate.set(state.buckets, estimate - bucketEstimate(String(day), bucket));
  forgetBucket(state, day);
}

/**
 * Per bucket container, a day below which it holds no bucket: expiry visits only the days from there
 * to the new oldest kept day — usually one, or none — instead of listing every key of the container
 * (≈90 strings and an array each time a customer's latest day moved, which in a replay is most
 * events). Kept by applyDelta (a new day below it lowers it) and expireBuckets (it rises to the oldest
 * kept day); ownBucket and forgetBucket are the only other code that changes a container's days
 * (shared-buckets.ts's invariant), and forgetting a day cannot invalidate it. A container without one
 * (new, rebuilt by reclaimState, decoded) takes one pass over its keys. Follows the container from a
 * state to its copy, like bucketsEstimate.
 */
const expiryFloors = new WeakMap<Record<string, SlotValues>, number>();

/** Beyond this many days between the floor and the oldest kept day, listing the keys is cheaper. */
const MAX_FLOOR_WALK = 512;

function lowerExpiryFloor(container: Record<string, SlotValues>, day: number): void {
  const floor = expiryFloors.get(container);
  if (floor !== undefined && day < floor) expiryFloors.set(container, day);
}

function lowestDay(container: Record<string, SlotValues>): number {
  let lowest = Number.POSITIVE_INFINITY;
  for (const key in container) {
    const day = Number(key);
    if (day < lowest) lowest = day;
  }
  return lowest;
}

/**
 * Copies a state so the copy can be changed independently. Slot values are never mutated in place
 * (merges replace tuples and bit sets), so they are shared; the small containers are copied; the day
 * buckets and the archive are shared copy-on-write (applyDelta copies a bucket before its first merge
 * into it, expiry the archive), and the bucket container moves to the copy, the original rebuilding
 * its own only if it is read again (src/state/shared-buckets.ts): a batch changes a day or two of a
 * customer's ~90, and copying the day-keyed container was the largest cost of staging a batch. This
 * is the hot path of every batch.
 */
export function cloneState(state: CustomerState): CustomerState {
  reclaimContainers(state);
  const copy = copyOf(state);
  shareContainers(state, copy); // moves the window totals (the bucket listener) to the copy
  return copy;
}

/** Makes a state whose container a copy took (cloneState) readable again (its own container rebuilt); no-op otherwise. */
export function reclaimState(state: CustomerState): void {
  reclaimContainers(state);
}

/**
 * What a checked-out state held besides its buckets and archive (those are journalled by
 * shared-buckets.ts): the small containers copied, the rest by reference.
 */
export interface CheckedOutState {
  readonly maxEventTime: number;
  readonly positions: Record<string, number>;
  readonly lastScore: LastScore | null;
  /** Absent: the state had no shadowScore field (a shadow model never ran for it). */
  readonly shadowScore?: LastScore | null;
  readonly outbox: Record<string, string>;
  readonly recentEvents: [number, number][];
}

/**
 * Checks a stored state out to a batch that changes it in place, for a holder that keeps it to itself
 * (the memory store): keepState ends the checkout at its write, rollBackState at a drop (the batch
 * failed or was never written), committedState reads what it held meanwhile. Against a copy per load
 * (lendState, until session 22), no second state and no container move: the state keeps its window
 * totals and its per-container caches from batch to batch, and a batch copies only the day buckets it
 * changes.
 */
export function checkOutState(state: CustomerState): CheckedOutState {
  checkOut(state);
  const { maxEventTime, lastScore } = state;
  const positions = { ...state.positions };
  const outbox = { ...state.outbox };
  const recentEvents = state.recentEvents.slice();
  return 'shadowScore' in state ? { maxEventTime, positions, lastScore, shadowScore: state.shadowScore, outbox, recentEvents } : { maxEventTime, positions, lastScore, outbox, recentEvents };
}

/** Ends a checkout keeping the batch's changes (the state was written). */
export function keepState(state: CustomerState): void {
  keepChanges(state);
}

/**
 * Ends a checkout undoing the batch's changes: the state reads as it did at checkOutState. `held` is
 * handed over (its containers become the state's): it must not be used again.
 */
export function rollBackState(state: CustomerState, held: CheckedOutState): void {
  // The container's cached floor and estimate followed the undone changes: dropped, taken anew when needed.
  expiryFloors.delete(state.buckets);
  bucketsEstimate.delete(state.buckets);
  rollBack(state);
  state.maxEventTime = held.maxEventTime;
  state.positions = held.positions;
  state.lastScore = held.lastScore;
  if ('shadowScore' in held) state.shadowScore = held.shadowScore;
  else delete state.shadowScore;
  state.outbox = held.outbox;
  state.recentEvents = held.recentEvents;
}

/** A checked-out state as it was at checkOutState, as an independent state (it copies a shared bucket before changing it). */
export function committedState(state: CustomerState, held: CheckedOutState): CustomerState {
  const { buckets, archive } = committedContainers(state);
  const { customerId } = state;
  const { maxEventTime, lastScore } = held;
  const positions = { ...held.positions };
  const outbox = { ...held.outbox };
  const recentEvents = held.recentEvents.slice();
  // The same rule as copyOf (a null shadowScore is left out), so a read during a batch equals one before it.
  const view: CustomerState =
    held.shadowScore
      ? { customerId, buckets, archive, maxEventTime, positions, lastScore, shadowScore: held.shadowScore, outbox, recentEvents }
      : { customerId, buckets, archive, maxEventTime, positions, lastScore, outbox, recentEvents };
  ownNothing(view);
  return view;
}

function copyOf(state: CustomerState): CustomerState {
  const { customerId, buckets, archive, maxEventTime, lastScore, shadowScore } = state;
  const positions = { ...state.positions };
  const outbox = { ...state.outbox };
  const recentEvents = state.recentEvents.slice();
  // Two literals, not a spread of a conditional one: no empty object per copy, and the same keys in
  // the same order as before (the codec and deep equality see no difference).
  return shadowScore
    ? { customerId, buckets, archive, maxEventTime, positions, lastScore, shadowScore, outbox, recentEvents }
    : { customerId, buckets, archive, maxEventTime, positions, lastScore, outbox, recentEvents };
}


/**
 * Encoded size in bytes (the binary format the Redis store writes, with the layout's fingerprint when
 * given; outbox included): what the memory store reports.
 */
export function stateBytes(state: CustomerState, layout?: StateLayout): number {
  return encodeCustomer(state, layout ? { layout: layout.merges } : {}).length;
}

/**
 * estimateStateBytes' sum over a state's day buckets, by bucket container: taken by one pass the
 * first time a container is estimated, then kept by applyDelta (the day it changes) and expireBuckets
 * (the days it removes), the only code that changes a container's days in place (shared-buckets.ts's
 * invariant). The container moves from a state to its copy (cloneState) with its sum; a
 * rebuilt container (reclaimState, a decode) has none and takes the pass again. The budget is checked
 * for every staged customer of every batch, and that pass over all of a warm customer's ~90 days was
 * ≈12 % of the engine's CPU in the warm phase of bench/kafka-e2e (bench/warm-profile.bench.ts).
 */
const bucketsEstimate = new WeakMap<Record<string, SlotValues>, number>();
/** Whether any estimate was ever taken (a byte budget is set): without one, applyDelta skips the lookup. */
let estimatesTaken = false;

function slotsEstimate(values: SlotValues): number {
  let n = 0;
  for (const key in values) {
    const v = values[key]!;
    n += key.length + 4;
    if (typeof v === 'number') n += 24;
    else if (Array.isArray(v)) n += v.length === 2 && typeof v[1] !== 'number' ? 30 + String(v[1]).length * 2 : v.length * 11 + 2;
    else n += 30;
  }
  return n;
}

function bucketEstimate(key: string, bucket: SlotValues): number {
  return key.length + 5 + slotsEstimate(bucket);
}

/**
 * An upper bound of the state's JSON size without building the string, cheap enough to check the
 * per-customer budget on every batch: numbers are counted at their longest JSON form (24 chars),
 * strings by length. The budget keeps this unit (configured budgets keep their meaning); the binary
 * form the stores hold is several times smaller.
 */
export function estimateStateBytes(state: CustomerState): number {
  let n = 160 + state.customerId.length;
  const buckets = state.buckets;
  let sum = bucketsEstimate.get(buckets);
  if (sum === undefined) {
    sum = 0;
    for (const key in buckets) sum += bucketEstimate(key, buckets[key]!);
    bucketsEstimate.set(buckets, sum);
    estimatesTaken = true;
  }
  n += sum + slotsEstimate(state.archive);
  for (const key in state.positions) n += key.length + 30;
  n += state.recentEvents.length * 32;
  // The outbox is delivery bookkeeping, trimmed at every commit: it never counts against the windows' budget.
  return n;
}

/**
 * The per-customer byte budget: a state above it sheds whole days from the oldest end into the archive
 * until it fits (long windows lose their tail first). Returns whether anything was shed.
 */
export function enforceBudget(state: CustomerState, layout: StateLayout, budget: number | undefined, onExceeded?: (customerId: string, bytes: number) => void): boolean {
  if (budget === undefined) return false;
  let bytes = estimateStateBytes(state);
  if (bytes <= budget) return false;
  onExceeded?.(state.customerId, bytes);
  const days = Object.keys(state.buckets).map(Number).sort((a, b) => a - b);
  for (const day of days) {
    if (bytes <= budget) break;
    expireBuckets(state, { ...layout, retentionDays: dayOf(state.maxEventTime) - day - 1 });
    bytes = estimateStateBytes(state);
  }
  return true;
}
