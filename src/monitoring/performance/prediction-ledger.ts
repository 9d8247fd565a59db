// Joins delayed labels to the scores that predicted them. At every evaluation tick T (a multiple of
// evaluationEveryMs, once the watermark passes it) each customer's score in force at T — the latest
// score at or before T and not older than the horizon — becomes a prediction. Like a training row
// observed at T, it is positive if the customer's label (cancellation) falls in [T, T + horizon),
// negative once the watermark passes T + horizon without one; customers whose label came before T are
// gone and not predicted. So a label at L resolves the customer's predictions of the ticks in
// (L − horizon, L]: the score in force at L − horizon and every later one. Per customer the ledger keeps
// the scores after the last tick plus the one in force at it (a bounded history), and one pending
// prediction per tick within the horizon.

export interface ResolvedPrediction {
  readonly customerId: string;
  /** The tick T the prediction was taken at. */
  readonly predictionTime: number;
  /** When the outcome became known: the label's time, or T + horizon for a negative. */
  readonly resolvedAt: number;
  readonly score: number;
  readonly modelVersion: string;
  /** Score at or above that model's threshold. */
  readonly predictedPositive: boolean;
  readonly label: 0 | 1;
  /** The first prediction this label resolved: counts the label (the churner) once. */
  readonly firstOfLabel: boolean;
}

interface ScoreEntry {
  readonly time: number;
  readonly score: number;
  readonly modelVersion: string;
  readonly predictedPositive: boolean;
}

interface CustomerLedger {
  /** Ascending by time; entries[0] is the one in force at the last tick (if any). */
  entries: ScoreEntry[];
  labelTime: number | undefined;
  /** Whether a prediction resolved by the label has been handed out (the label is counted once). */
  labelCounted: boolean;
}

export interface LedgerOptions {
  readonly horizonMs: number;
  readonly everyMs: number;
}

export interface LedgerStats {
  readonly customers: number;
  readonly pending: number;
  /** Labels that came after the watermark had already resolved their predictions as negatives. */
  readonly lateLabels: number;
}

export class PredictionLedger {
  private readonly customers = new Map<string, CustomerLedger>();
  /** tick → customer → prediction */
  private readonly pending = new Map<number, Map<string, ScoreEntry>>();
  private nextTick: number | undefined;
  private resolvedUpTo = Number.NEGATIVE_INFINITY;
  private lateLabels = 0;

  constructor(private readonly options: LedgerOptions) {}

  recordScore(customerId: string, time: number, score: number, modelVersion: string, predictedPositive: boolean): void {
    if (Number.isNaN(score)) return;
    let c = this.customers.get(customerId);
    if (c === undefined) {
      c = { entries: [], labelTime: undefined, labelCounted: false };
      this.customers.set(customerId, c);
    }
    const entry: ScoreEntry = { time, score, modelVersion, predictedPositive };
    const e = c.entries;
    // Mostly appends; a late event's score goes to its place in time.
    let i = e.length;
    while (i > 0 && e[i - 1]!.time > time) i--;
    e.splice(i, 0, entry);
    if (this.nextTick === undefined) this.nextTick = (Math.floor(time / this.options.everyMs) + 1) * this.options.everyMs;
  }

  /** A label (e.g. a cancellation) at `time`: resolves the customer's pending predictions it falls within. */
  recordLabel(customerId: string, time: number): ResolvedPrediction[] {
    let c = this.customers.get(customerId);
    if (c === undefined) {
      c = { entries: [], labelTime: time, labelCounted: false };
      this.customers.set(customerId, c);
    } else c.labelTime = c.labelTime === undefined ? time : Math.min(c.labelTime, time);
    // Ticks in (time − horizon, resolvedUpTo − horizon] were already resolved as negatives.
    if (time < this.resolvedUpTo) this.lateLabels++;
    const out: ResolvedPrediction[] = [];
    for (const [tick, preds] of this.pending) {
      if (tick <= time - this.options.horizonMs) continue;
      const p = preds.get(customerId);
      if (p === undefined) continue;
      preds.delete(customerId);
      // A tick after the label (a label that arrived late) predicted a customer who was already gone.
      if (tick <= time) out.push(resolved(customerId, tick, time, p, 1, false));
    }
    out.sort((a, b) => a.predictionTime - b.predictionTime);
    if (out.length > 0 && !c.labelCounted) {
      out[0] = { ...out[0]!, firstOfLabel: true };
      c.labelCounted = true;
    }
    return out;
  }

  /** Takes the ticks the watermark has passed and resolves, as negatives, predictions whose horizon it has passed. */
  advance(watermark: number): ResolvedPrediction[] {
    const out: ResolvedPrediction[] = [];
    const { everyMs, horizonMs } = this.options;
    while (this.nextTick !== undefined && this.nextTick <= watermark) {
      this.resolveNegatives(this.nextTick - horizonMs, out); // keeps resolution in time order across a jump
      this.takeTick(this.nextTick, out);
      this.nextTick += everyMs;
    }
    this.resolveNegatives(watermark - horizonMs, out);
    return out;
  }

  stats(): LedgerStats {
    let pending = 0;
    for (const p of this.pending.values()) pending += p.size;
    return { customers: this.customers.size, pending, lateLabels: this.lateLabels };
  }

  private resolveNegatives(tickAtOrBefore: number, out: ResolvedPrediction[]): void {
    const ticks = [...this.pending.keys()].filter((t) => t <= tickAtOrBefore).sort((a, b) => a - b);
    for (const tick of ticks) {
      const at = tick + this.options.horizonMs;
      for (const [id, p] of this.pending.get(tick)!) out.push(resolved(id, tick, at, p, 0, false));
      this.pending.delete(tick);
      this.resolvedUpTo = Math.max(this.resolvedUpTo, at);
    }
  }

  private takeTick(tick: number, out: ResolvedPrediction[]): void {
    const { horizonMs } = this.options;
    const preds = new Map<string, ScoreEntry>();
    for (const [id, c] of this.customers) {
      const e = c.entries;
      let k = -1;
      while (k + 1 < e.length && e[k + 1]!.time <= tick) k++;
      if (k > 0) e.splice(0, k); // older scores were superseded before this tick
      const inForce = k >= 0 && e[0]!.time > tick - horizonMs ? e[0]! : undefined;
      if (c.labelTime !== undefined && c.labelTime < tick) {
        // Gone before T: not predicted; forgotten once its last score is out of the horizon.
        if (c.labelTime <= tick - horizonMs && (e.length === 0 || e[e.length - 1]!.time <= tick - horizonMs)) this.customers.delete(id);
        continue;
      }
      if (inForce === undefined) {
        if (e.length === 0 || e[e.length - 1]!.time <= tick - horizonMs) this.customers.delete(id);
        continue;
      }
      if (c.labelTime !== undefined && c.labelTime < tick + horizonMs) {
        out.push(resolved(id, tick, c.labelTime, inForce, 1, !c.labelCounted));
        c.labelCounted = true;
      } else preds.set(id, inForce);
    }
    if (preds.size > 0) this.pending.set(tick, preds);
  }
}

function resolved(customerId: string, tick: number, at: number, p: ScoreEntry, label: 0 | 1, firstOfLabel: boolean): ResolvedPrediction {
  return { customerId, predictionTime: tick, resolvedAt: at, score: p.score, modelVersion: p.modelVersion, predictedPositive: p.predictedPositive, label, firstOfLabel };
}
