// Which customers this instance owns: those whose key falls in a partition assigned to it. A customer's
// partition is computed with the producer's own partitioner (kafkajs' default: murmur2 of the key, as
// Java's), so the instances of one group split the customers between them without talking to each
// other. Drift sampling uses it to touch only its own customers' state.
import { Partitioners, type PartitionMetadata } from 'kafkajs';

/** kafkajs' default partitioner (murmur2 of the key, positive, modulo the partition count): what `simulate --to kafka` and Java producers use. */
const partitioner = Partitioners.DefaultPartitioner();
const metadataCache = new Map<number, PartitionMetadata[]>();

function metadataOf(partitions: number): PartitionMetadata[] {
  let m = metadataCache.get(partitions);
  if (!m) {
    m = Array.from({ length: partitions }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0] }));
    metadataCache.set(partitions, m);
  }
  return m;
}

/** The partition a producer with the default partitioner writes a record keyed `key` to. */
export function keyPartition(topic: string, key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return partitioner({ topic, partitionMetadata: metadataOf(partitions), message: { key, value: null } });
}

export interface OwnedPartitions {
  /** This member's partitions by topic, as the last group join assigned them. */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
  /** Each subscribed topic's partition count (topic metadata). */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

/**
 * A customer belongs to the instance that owns its partition of the *first* activity topic (config
 * order): with several topics every customer still has exactly one owner in the group, so the fleet's
 * samples neither overlap nor leave anyone out. Before the first join it owns nobody.
 */
export class CustomerOwnership {
  private owned: ReadonlySet<number> = new Set();
  private partitions = 0;

  constructor(readonly topic: string) {}

  update(owned: OwnedPartitions): void {
    const count = owned.partitionCounts.get(this.topic);
    this.owned = new Set(owned.assignment[this.topic] ?? []);
    this.partitions = count ?? 0;
  }

  /** Partitions of the deciding topic this instance owns now. */
  ownedPartitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  owns(customerId: string): boolean {
    if (this.partitions === 0 || this.owned.size === 0) return false;
    return this.owned.has(keyPartition(this.topic, customerId, this.partitions));
  }
}
