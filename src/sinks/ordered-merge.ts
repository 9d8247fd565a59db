// Puts the outputs of a parallel replay's workers back in input order. Each worker delivers its
// entries in ascending sequence (the input position of the record that produced them) and, with every
// delivery, its progress: no entry it delivers later has a sequence at or below it. An entry is
// released once every worker's progress has reached its sequence, so what is released is exactly
// what a single-threaded run would have written up to there, in the same order. Held entries are
// bounded by how far the workers run apart, not by the input.
import { ChurnflowError } from '../errors.js';

export class OrderedMerge<T> {
  private readonly queues: { seqs: number[]; values: T[]; head: number; last: number }[];
  private readonly progress: number[];

  constructor(sources: number) {
    if (!Number.isInteger(sources) || sources < 1) throw new RangeError(`an ordered merge needs at least one source, got ${sources}`);
    this.queues = Array.from({ length: sources }, () => ({ seqs: [], values: [], head: 0, last: Number.NEGATIVE_INFINITY }));
    this.progress = new Array<number>(sources).fill(Number.NEGATIVE_INFINITY);
  }

  /** Entries of one source (ascending `seqs`, each above its progress so far), and its progress after them. */
  push(source: number, seqs: readonly number[], values: readonly T[], progress: number): void {
    const q = this.queues[source]!;
    if (seqs.length !== values.length) throw internal(`source ${source} sent ${seqs.length} sequence numbers for ${values.length} entries`);
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      if (!(seq > q.last) || !(seq > this.progress[source]!) || seq > progress) {
        throw internal(`source ${source} sent sequence ${seq} after ${q.last} (progress ${this.progress[source]} → ${progress})`);
      }
      q.last = seq;
      q.seqs.push(seq);
      q.values.push(values[i]!);
    }
    this.advance(source, progress);
  }

  /** A source's progress alone (e.g. Infinity once it is done). Progress never moves back. */
  advance(source: number, progress: number): void {
    if (progress > this.progress[source]!) this.progress[source] = progress;
  }

  /** How far every source has come: entries up to here are final. */
  get frontier(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const p of this.progress) if (p < min) min = p;
    return min;
  }

  /** Entries held, not yet released. */
  get held(): number {
    let n = 0;
    for (const q of this.queues) n += q.seqs.length - q.head;
    return n;
  }

  /** Releases, in sequence order, every held entry at or below the frontier (or `limit`, if lower). */
  take(limit = Number.POSITIVE_INFINITY): T[] {
    const upTo = Math.min(this.frontier, limit);
    const out: T[] = [];
    for (;;) {
      let best = -1;
      let bestSeq = Number.POSITIVE_INFINITY;
      for (let s = 0; s < this.queues.length; s++) {
        const q = this.queues[s]!;
        if (q.head < q.seqs.length && q.seqs[q.head]! < bestSeq) {
          best = s;
          bestSeq = q.seqs[q.head]!;
        }
      }
      if (best < 0 || bestSeq > upTo) break;
      const q = this.queues[best]!;
      out.push(q.values[q.head]!);
      q.head++;
    }
    for (const q of this.queues) {
      if (q.head > 1024 && q.head * 2 > q.seqs.length) {
        q.seqs.splice(0, q.head);
        q.values.splice(0, q.head);
        q.head = 0;
      }
    }
    return out;
  }
}

function internal(message: string): ChurnflowError {
  return new ChurnflowError('CF_REPLAY_WORKER', `ordered merge: ${message}`, { retriable: false });
}
