// Watches the model now in production and says when it should be rolled back: too many failed
// scoring calls, a slow p99 per batch, or a score distribution far from the model's own reference
// (PSI on the manifest's score bins). Judged only once a version has scored enough customers, and
// at most once per version; the engine then moves the production alias back (all instances follow).
import { binIndex } from '../monitoring/drift/bins.js';
import { psi } from '../monitoring/drift/psi.js';
import type { ModelManifest } from './manifest.js';

export interface RollbackPolicy {
  readonly minScores: number;
  readonly maxErrorRate: number;
  readonly maxLatencyP99Ms: number;
  readonly maxScorePsi: number;
}

export type RollbackReason = 'error_rate' | 'latency_p99' | 'score_psi';

export interface RollbackTrigger {
  readonly version: string;
  readonly reason: RollbackReason;
  readonly value: number;
  readonly limit: number;
  /** Scored customers (or scoring calls, for error_rate) behind the verdict. */
  readonly sample: number;
}

/** Failed calls before an error rate counts even with no successful call (a model that never scores). */
const MIN_FAILED_CALLS = 3;
const MIN_CALLS = 20;
const LATENCY_RING = 1000;

export class RollbackGuard {
  private version: string | undefined;
  private edges: readonly number[] = [];
  private reference: readonly number[] = [];
  private ring = new Float64Array(0);
  private n = 0;
  private next = 0;
  private okCalls = 0;
  private failedCalls = 0;
  private latencies: number[] = [];
  private fired = false;
  /** The latest value of each trigger's statistic for the watched version (exported as gauges). */
  readonly latest = new Map<RollbackReason, number>();

  constructor(private readonly policy: RollbackPolicy) {
    this.ring = new Float64Array(policy.minScores);
  }

  /** Starts judging a (new) production version against its manifest's reference. */
  watch(manifest: ModelManifest): void {
    if (manifest.version === this.version) return;
    this.version = manifest.version;
    this.edges = manifest.reference.score.edges;
    this.reference = manifest.reference.score.shares;
    this.n = 0;
    this.next = 0;
    this.okCalls = 0;
    this.failedCalls = 0;
    this.latencies = [];
    this.fired = false;
    this.latest.clear();
  }

  recordScored(version: string, seconds: number, scores: ArrayLike<number>): void {
    if (version !== this.version) return;
    this.okCalls++;
    this.latencies.push(seconds * 1000);
    if (this.latencies.length > LATENCY_RING) this.latencies.shift();
    for (let i = 0; i < scores.length; i++) {
      this.ring[this.next] = scores[i]!;
      this.next = (this.next + 1) % this.ring.length;
      if (this.n < this.ring.length) this.n++;
    }
  }

  recordFailure(version: string): void {
    if (version === this.version) this.failedCalls++;
  }

  /** The first trigger that holds for the watched version (once per version), or undefined. */
  check(): RollbackTrigger | undefined {
    if (this.fired || this.version === undefined) return undefined;
    const t = this.evaluate();
    if (t) this.fired = true;
    return t;
  }

  private evaluate(): RollbackTrigger | undefined {
    const p = this.policy;
    const version = this.version!;
    const calls = this.okCalls + this.failedCalls;
    if (calls >= MIN_CALLS || (this.okCalls === 0 && this.failedCalls >= MIN_FAILED_CALLS)) {
      const rate = this.failedCalls / calls;
      this.latest.set('error_rate', rate);
      if (rate > p.maxErrorRate) return { version, reason: 'error_rate', value: rate, limit: p.maxErrorRate, sample: calls };
    }
    if (this.n < p.minScores) return undefined;
    if (this.latencies.length >= MIN_CALLS) {
      const sorted = [...this.latencies].sort((a, b) => a - b);
      const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
      this.latest.set('latency_p99', p99);
      if (p99 > p.maxLatencyP99Ms) return { version, reason: 'latency_p99', value: p99, limit: p.maxLatencyP99Ms, sample: sorted.length };
    }
    const counts = new Array<number>(this.reference.length).fill(0);
    for (let i = 0; i < this.n; i++) counts[binIndex(this.edges, this.ring[i]!)]!++;
    const value = psi(counts, this.reference);
    this.latest.set('score_psi', value);
    if (value > p.maxScorePsi) return { version, reason: 'score_psi', value, limit: p.maxScorePsi, sample: this.n };
    return undefined;
  }
}
