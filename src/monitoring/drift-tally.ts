// What the drift monitor said during a run, for the demo summary: records by severity, the worst
// statistic per subject, and retraining triggers. Wraps the drift sink so nothing else has to know.
import type { DriftMetricRecord } from '../events/wire-types.js';
import type { RecordSink } from '../sinks/record-sink.js';

export interface WorstDrift {
  readonly subject: string;
  readonly statistic: string;
  readonly value: number;
  readonly severity: string;
  readonly windowEnd: number;
}

const RANK: Record<string, number> = { ok: 0, warn: 1, alert: 2 };

export class DriftTally {
  records = 0;
  readonly bySeverity = new Map<string, number>();
  readonly worst = new Map<string, WorstDrift>();
  readonly triggers: DriftMetricRecord[] = [];
  firstAlertWindowEnd: number | undefined;

  wrap(sink: RecordSink<DriftMetricRecord>): RecordSink<DriftMetricRecord> {
    return { ...sink, write: async (records) => {
      for (const r of records) this.observe(r);
      await sink.write(records);
    } };
  }

  observe(r: DriftMetricRecord): void {
    this.records++;
    this.bySeverity.set(r.severity, (this.bySeverity.get(r.severity) ?? 0) + 1);
    if (r.statistic === 'retraining_trigger') {
      this.triggers.push(r);
      return;
    }
    if (r.severity === 'alert' && this.firstAlertWindowEnd === undefined) this.firstAlertWindowEnd = r.window_end;
    const cur = this.worst.get(r.subject);
    const rank = RANK[r.severity] ?? 0;
    if (!cur || rank > (RANK[cur.severity] ?? 0) || (rank === (RANK[cur.severity] ?? 0) && r.statistic === 'psi' && r.value > cur.value)) {
      this.worst.set(r.subject, { subject: r.subject, statistic: r.statistic, value: r.value, severity: r.severity, windowEnd: r.window_end });
    }
  }

  /** Subjects whose worst window reached warn or alert, alerts first. */
  flagged(limit: number): WorstDrift[] {
    return [...this.worst.values()]
      .filter((w) => w.severity !== 'ok')
      .sort((a, b) => (RANK[b.severity] ?? 0) - (RANK[a.severity] ?? 0) || a.windowEnd - b.windowEnd || (a.subject < b.subject ? -1 : 1))
      .slice(0, limit);
  }
}
