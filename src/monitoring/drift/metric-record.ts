// Findings as drift-topic records (DriftMetricRecord), with deterministic ids: the same model,
// subject, statistic and window always give the same metric_id, so a replay or a redelivery can be
// deduplicated downstream.
import type { DriftMetricRecord } from '../../events/wire-types.js';
import { sha256Hex } from '../../features/canonical-json.js';

export interface RecordKey {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  /** 20 hex of sha256(model, version, window): computed once per window by recordKey(). */
  readonly idPrefix: string;
}

export interface RecordValue {
  readonly subject: string;
  readonly statistic: string;
  readonly value: number;
  readonly pValue: number | null;
  readonly severity: string;
  readonly sampleSize: number;
}

export function recordKey(modelName: string, modelVersion: string, windowStart: number, windowEnd: number): RecordKey {
  const idPrefix = sha256Hex([modelName, modelVersion, windowStart, windowEnd].join('\u0000')).slice(0, 20);
  return { modelName, modelVersion, windowStart, windowEnd, idPrefix };
}

/**
 * `dm-` + 20 hex of sha256(model, version, window) + 12 hex of sha256(subject, statistic). The window
 * half is computed once per window (recordKey) and the subject half memoised (subjects repeat every
 * window), so an id costs a map lookup instead of a sha256 per record — which had been half the
 * cost of closing a window.
 */
export function metricId(key: RecordKey, subject: string, statistic: string): string {
  let byStatistic = subjectHashes.get(subject);
  if (byStatistic === undefined) {
    if (subjectHashes.size >= MEMO_LIMIT) subjectHashes.clear();
    byStatistic = new Map();
    subjectHashes.set(subject, byStatistic);
  }
  let h = byStatistic.get(statistic);
  if (h === undefined) {
    h = sha256Hex(`${subject}\u0000${statistic}`).slice(0, 12);
    byStatistic.set(statistic, h);
  }
  return `dm-${key.idPrefix}${h}`;
}

const subjectHashes = new Map<string, Map<string, string>>();
const MEMO_LIMIT = 4096;

export function driftRecord(key: RecordKey, v: RecordValue): DriftMetricRecord {
  return {
    metric_id: metricId(key, v.subject, v.statistic),
    model_name: key.modelName,
    model_version: key.modelVersion,
    subject: v.subject,
    statistic: v.statistic,
    // The Avro field is a double; NaN (no value for the window) is sent as-is and means "undefined".
    value: v.value,
    p_value: v.pValue === null || Number.isNaN(v.pValue) ? null : v.pValue,
    severity: v.severity,
    sample_size: Math.round(v.sampleSize),
    window_start: key.windowStart,
    window_end: key.windowEnd,
  };
}
