// One shard's share of a stream that several workers read whole (`churnflow replay --workers N`):
// each worker decodes, validates and routes every record, so event time, the watermark and the
// replay clock are the same in every worker as in a single-threaded replay, and keeps only what it
// owns. An accepted event belongs to the shard of its customer (a customer's state lives in exactly
// one worker, so the stateful stages see all of its events in order); a rejected or late record, which
// touches no state, belongs to the shard of its position (spread evenly). Every record is owned by
// exactly one shard. Dropped records return their flow-control credit at once: they are done.
import { filter, type MonoTypeOperatorFunction } from 'rxjs';
import type { Routed } from '../events/routed.js';
import type { FlowControl } from '../sources/flow-control.js';

export interface Shard {
  /** 0 ≤ index < count. */
  readonly index: number;
  readonly count: number;
}

/** The shard of a customer: FNV-1a of its id's UTF-16 code units, mod `count`. Stable across processes and releases. */
export function customerShard(customerId: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < customerId.length; i++) h = Math.imul(h ^ customerId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}

/** The shard a routed record belongs to (see the header). */
export function shardOf(item: Routed, count: number): number {
  return item.tag === 'accepted' ? customerShard(item.event.customerId, count) : item.record.position.offset % count;
}

export function ownShard(shard: Shard, flow: FlowControl): MonoTypeOperatorFunction<Routed> {
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new RangeError(`a shard needs 0 ≤ index < count, got index ${shard.index} of ${shard.count}`);
  }
  return filter((item) => {
    if (shardOf(item, shard.count) === shard.index) return true;
    flow.release(1);
    return false;
  });
}
