// What the Kafka source needs of the event-time tracker: the frontier to persist with a commit, the
// frontier to restore on assignment, and forgetting revoked partitions. The metadata format is ours,
// versioned, and small (Kafka allows 4 KB of offset metadata by default).

export interface PartitionWatermarks {
  /** A stream's event-time frontier right after `offset` (undefined: nothing known). */
  frontierAt(stream: string, offset: number): number | undefined;
  /** Restores a frontier persisted by an earlier owner, before the stream's first record. */
  seed(stream: string, frontier: number): void;
  /** Forgets a revoked stream, so it no longer holds back the overall watermark. */
  remove(stream: string): void;
}

export function encodeWatermarkMetadata(frontier: number | undefined): string | null {
  return frontier === undefined ? null : JSON.stringify({ v: 1, frontier });
}

/** The frontier in a commit's metadata; undefined for anything else (commits by other tools, older runs). */
export function decodeWatermarkMetadata(metadata: string | null | undefined): number | undefined {
  if (!metadata) return undefined;
  try {
    const parsed = JSON.parse(metadata) as { v?: unknown; frontier?: unknown };
    return parsed.v === 1 && typeof parsed.frontier === 'number' && Number.isFinite(parsed.frontier) ? parsed.frontier : undefined;
  } catch {
    return undefined;
  }
}

export const streamOf = (topic: string, partition: number): string => `${topic}/${partition}`;

export function splitStream(stream: string): [string, number] {
  const i = stream.lastIndexOf('/');
  return [stream.slice(0, i), Number(stream.slice(i + 1))];
}
