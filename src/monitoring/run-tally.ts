// Running totals of a scoring run, fed by the topology's output batches: what the demo summary and
// progress lines print. Bounded by customers (one latest score each).
import type { DecidedBatch } from '../operators/batch.js';

export interface LatestRisk {
  readonly score: number;
  readonly band: string;
  readonly eventTime: number;
}

/** A tally's counts as plain data (what a parallel replay's worker sends its coordinator); no per-customer part. */
export interface TallyCounts {
  readonly records: number;
  readonly events: number;
  readonly duplicates: number;
  readonly late: number;
  readonly riskEvents: number;
  readonly deadLetters: readonly (readonly [code: string, n: number])[];
  readonly riskEventsByBand: readonly (readonly [band: string, n: number])[];
  readonly suppressed: readonly (readonly [reason: string, n: number])[];
  readonly firstEventTime: number | undefined;
  readonly lastEventTime: number | undefined;
}

export class RunTally {
  records = 0;
  events = 0;
  duplicates = 0;
  late = 0;
  riskEvents = 0;
  readonly deadLetters = new Map<string, number>();
  readonly riskEventsByBand = new Map<string, number>();
  /** Scores the emit rule did not publish, by reason. */
  readonly suppressed = new Map<string, number>();
  readonly latest = new Map<string, LatestRisk>();
  firstEventTime: number | undefined;
  lastEventTime: number | undefined;

  observe(batch: DecidedBatch): void {
    this.records += batch.items.length;
    for (const r of batch.rejected) {
      if (r.route === 'late') this.late++;
      else this.deadLetters.set(r.code, (this.deadLetters.get(r.code) ?? 0) + 1);
    }
    this.duplicates += batch.duplicates.redelivered + batch.duplicates.sameEventId;
    for (const s of batch.steps) {
      this.events++;
      const t = s.item.event.eventTime;
      if (this.firstEventTime === undefined || t < this.firstEventTime) this.firstEventTime = t;
      if (this.lastEventTime === undefined || t > this.lastEventTime) this.lastEventTime = t;
    }
    for (const [reason, n] of Object.entries(batch.suppressed)) if (n > 0) this.suppressed.set(reason, (this.suppressed.get(reason) ?? 0) + n);
    for (const e of batch.riskEvents) {
      this.riskEvents++;
      this.riskEventsByBand.set(e.band, (this.riskEventsByBand.get(e.band) ?? 0) + 1);
      this.latest.set(e.customer_id, { score: e.score, band: e.band, eventTime: e.event_time });
    }
  }

  counts(): TallyCounts {
    return {
      records: this.records,
      events: this.events,
      duplicates: this.duplicates,
      late: this.late,
      riskEvents: this.riskEvents,
      deadLetters: [...this.deadLetters],
      riskEventsByBand: [...this.riskEventsByBand],
      suppressed: [...this.suppressed],
      firstEventTime: this.firstEventTime,
      lastEventTime: this.lastEventTime,
    };
  }

  /** Adds another tally's counts (the workers of one parallel replay: disjoint records). */
  add(c: TallyCounts): void {
    this.records += c.records;
    this.events += c.events;
    this.duplicates += c.duplicates;
    this.late += c.late;
    this.riskEvents += c.riskEvents;
    const sum = (into: Map<string, number>, from: readonly (readonly [string, number])[]) => {
      for (const [k, n] of from) into.set(k, (into.get(k) ?? 0) + n);
    };
    sum(this.deadLetters, c.deadLetters);
    sum(this.riskEventsByBand, c.riskEventsByBand);
    sum(this.suppressed, c.suppressed);
    if (c.firstEventTime !== undefined && (this.firstEventTime === undefined || c.firstEventTime < this.firstEventTime)) this.firstEventTime = c.firstEventTime;
    if (c.lastEventTime !== undefined && (this.lastEventTime === undefined || c.lastEventTime > this.lastEventTime)) this.lastEventTime = c.lastEventTime;
  }

  get deadLettered(): number {
    let n = 0;
    for (const v of this.deadLetters.values()) n += v;
    return n;
  }

  get suppressedTotal(): number {
    let n = 0;
    for (const v of this.suppressed.values()) n += v;
    return n;
  }

  /**
   * Risk events per customer per 30 days of event time: what a campaign engine has to act on. Customers
   * are those with a published risk (every scored customer: the first score always publishes).
   */
  riskEventsPer30Days(): { perCustomer: number; customers: number; days: number } {
    const customers = this.latest.size;
    const days = this.firstEventTime === undefined || this.lastEventTime === undefined ? 0 : (this.lastEventTime - this.firstEventTime) / 86_400_000;
    return { perCustomer: customers > 0 && days > 0 ? (this.riskEvents / customers) * (30 / days) : 0, customers, days };
  }

  customersByBand(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.latest.values()) out.set(r.band, (out.get(r.band) ?? 0) + 1);
    return out;
  }

  riskiest(n: number): [string, LatestRisk][] {
    return [...this.latest.entries()].sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? -1 : 1)).slice(0, n);
  }
}
