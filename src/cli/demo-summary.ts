// The end-of-demo report: throughput, risk events per band, dead letters by reason, late events, and
// the ten riskiest customers with the features that stand out against the training reference.
import type { CompiledSpec } from '../features/compile-spec.js';
import type { DriftTally } from '../monitoring/drift-tally.js';
import type { RunTally } from '../monitoring/run-tally.js';
import { standoutFeatures } from '../monitoring/standout-features.js';
import { SUPPRESS_REASONS } from '../scoring/emit-rule.js';
import type { ScoringRef } from '../scoring/scoring-ref.js';
import type { AgreementFigures } from '../scoring/shadow-agreement.js';
import type { StateStore } from '../state/state-store.js';

export interface DemoSummaryInput {
  readonly tally: RunTally;
  readonly seconds: number;
  readonly spec: CompiledSpec;
  /** Who scored at the end (the production model, or the fallback rules); standouts need a model's reference. */
  readonly scorer: ScoringRef;
  /** Risk events by scorer and version (e.g. "model 1.1.0", "canary 1.2.0", "fallback 1"), and by experiment arm. */
  readonly byScorer?: ReadonlyMap<string, number>;
  readonly byArm?: ReadonlyMap<string, number>;
  /** Shadow agreement at the end, if a shadow model ran. */
  readonly shadow?: { readonly version: string; readonly events: number; readonly figures: AgreementFigures } | undefined;
  readonly store: StateStore;
  readonly outDir: string;
  readonly drift?: DriftTally | undefined;
  /** When the monitor's verdicts begin (end of its warm-up) and when injected drift starts, if any. */
  readonly driftTimeline?: { readonly verdictsFrom: number; readonly injectedFrom?: number | undefined } | undefined;
}

export async function buildDemoSummary(input: DemoSummaryInput): Promise<{ text: string; json: Record<string, unknown> }> {
  const { tally, seconds, spec, scorer, store } = input;
  const reference = scorer.manifest?.reference.features;
  const stats = await store.stats();
  const top = tally.riskiest(10);
  const states = await store.get(top.map(([id]) => id));
  const names = spec.columns.map((c) => c.name);
  const riskiest = top.map(([customerId, r], i) => {
    const state = states[i];
    const values = state ? spec.evaluate(state, state.maxEventTime + 1) : new Float64Array(names.length).fill(Number.NaN);
    const standouts = reference ? standoutFeatures(names, values, reference, { limit: 3 }) : [];
    return { customer_id: customerId, score: r.score, band: r.band, as_of: new Date(r.eventTime).toISOString(), standouts };
  });
  const bands = scorer.decision.bands.map((b) => b.name);
  const customersByBand = tally.customersByBand();
  const json = {
    seconds,
    records: tally.records,
    records_per_second: tally.records / Math.max(seconds, 1e-9),
    events_applied: tally.events,
    duplicates: tally.duplicates,
    dead_lettered: Object.fromEntries(tally.deadLetters),
    late: tally.late,
    risk_events: tally.riskEvents,
    risk_events_per_customer_per_30_days: tally.riskEventsPer30Days().perCustomer,
    risk_suppressed: Object.fromEntries(SUPPRESS_REASONS.map((r) => [r, tally.suppressed.get(r) ?? 0])),
    risk_events_by_band: Object.fromEntries(bands.map((b) => [b, tally.riskEventsByBand.get(b) ?? 0])),
    customers_by_current_band: Object.fromEntries(bands.map((b) => [b, customersByBand.get(b) ?? 0])),
    state: { customers: stats.customers, bytes: stats.bytes, bytes_per_customer: stats.customers ? stats.bytes / stats.customers : 0 },
    model: { name: scorer.name, version: scorer.version, scorer: scorer.scorer, threshold: scorer.decision.threshold },
    risk_events_by_scorer: input.byScorer ? Object.fromEntries(input.byScorer) : null,
    risk_events_by_arm: input.byArm ? Object.fromEntries(input.byArm) : null,
    shadow: input.shadow ? { version: input.shadow.version, events: input.shadow.events, ...input.shadow.figures } : null,
    riskiest,
    drift: input.drift
      ? { records: input.drift.records, by_severity: Object.fromEntries(input.drift.bySeverity), flagged: input.drift.flagged(50), retraining_triggers: input.drift.triggers.map((t) => ({ reason: t.subject, window_end: t.window_end })) }
      : null,
  };
  const lines: string[] = [];
  const fmt = (n: number) => n.toLocaleString('en-US');
  lines.push('', '── summary ─────────────────────────────────────────────────────────────');
  lines.push(`records        ${fmt(tally.records)} in ${seconds.toFixed(1)} s  →  ${fmt(Math.round(json.records_per_second))} records/s`);
  lines.push(`applied        ${fmt(tally.events)} events to ${fmt(stats.customers)} customers' state (${Math.round(json.state.bytes_per_customer)} bytes/customer)`);
  const dl = [...tally.deadLetters.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  lines.push(`dead-lettered  ${fmt(tally.deadLettered)}${dl ? `  (${dl})` : ''}`);
  lines.push(`late           ${fmt(tally.late)}  (behind the watermark by more than the allowed lateness)`);
  lines.push(`risk events    ${fmt(tally.riskEvents)}  by band: ${bands.map((b) => `${b} ${fmt(tally.riskEventsByBand.get(b) ?? 0)}`).join(', ')}`);
  const per = tally.riskEventsPer30Days();
  lines.push(`per customer   ${per.perCustomer.toFixed(2)} risk events per 30 days (${fmt(per.customers)} customers over ${per.days.toFixed(1)} days of event time)`);
  const sup = SUPPRESS_REASONS.map((r) => `${r} ${fmt(tally.suppressed.get(r) ?? 0)}`).join(', ');
  lines.push(`suppressed     ${fmt(tally.suppressedTotal)} scores not published  (${sup})`);
  lines.push(`customers now  ${bands.map((b) => `${b} ${fmt(customersByBand.get(b) ?? 0)}`).join(', ')}   (threshold ${scorer.decision.threshold.toFixed(3)})`);
  if (input.byScorer && input.byScorer.size > 1) lines.push(`scored by      ${[...input.byScorer.entries()].map(([k, v]) => `${k}: ${fmt(v)}`).join(', ')} risk events`);
  if (input.byArm && input.byArm.size > 0) lines.push(`experiment     ${[...input.byArm.entries()].map(([k, v]) => `${k} ${fmt(v)}`).join(', ')} risk events`);
  if (input.shadow) {
    const f = input.shadow.figures;
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    lines.push(`shadow         ${input.shadow.version}: ${fmt(input.shadow.events)} shadow risk events; over the last ${fmt(f.pairs)} scores correlation ${f.correlation.toFixed(3)}, band flips ${pct(f.bandFlips)}, above threshold production ${pct(f.productionAbove)} / shadow ${pct(f.shadowAbove)}`);
  }
  lines.push('', 'riskiest customers');
  for (const r of riskiest) {
    const why = r.standouts.map((s) => `${s.feature}=${formatValue(s.value)} (p${Math.round(s.percentile * 100)})`).join(', ');
    lines.push(`  ${r.customer_id.padEnd(10)} ${r.score.toFixed(3)} ${r.band.padEnd(7)} ${why || '(no feature outside the reference 10–90% range)'}`);
  }
  const drift = input.drift;
  if (drift) {
    const sev = (k: string) => drift.bySeverity.get(k) ?? 0;
    lines.push('', `drift          ${fmt(drift.records)} window statistics (ok ${fmt(sev('ok'))}, warn ${fmt(sev('warn'))}, alert ${fmt(sev('alert'))}); retraining triggers ${drift.triggers.length}`);
    const tl = input.driftTimeline;
    if (tl) {
      const day = (t: number) => new Date(t).toISOString().slice(0, 10);
      lines.push(`  verdicts from ${day(tl.verdictsFrom)} (monitor warm-up)${tl.injectedFrom !== undefined ? `; drift injected from ${day(tl.injectedFrom)}` : '; no drift injected'}`);
    }
    for (const w of drift.flagged(8)) {
      lines.push(`  ${w.severity.padEnd(5)} ${w.subject.padEnd(28)} ${w.statistic} ${w.value.toFixed(3)} (window ending ${new Date(w.windowEnd).toISOString().slice(0, 10)})`);
    }
    for (const t of drift.triggers.slice(0, 3)) lines.push(`  retrain: ${t.subject} (window ending ${new Date(t.window_end).toISOString().slice(0, 10)})`);
  }
  lines.push('', `written: ${input.outDir}/risk-events.ndjson, ${input.outDir}/current-risk.ndjson, ${input.outDir}/dead-letters.ndjson, ${input.outDir}/summary.json`, '');
  return { text: lines.join('\n'), json };
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}
