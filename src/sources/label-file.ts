// Reads a labels file: the rows a user wants in a training set or backtest, each a customer, an
// observation time, the label known for it, and optionally a group (cohort, course, region) for
// group splits. CSV (with a header) or NDJSON. Every problem names the line and the column.
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { DAY_MS } from '../events/activity-event.js';
import { ChurnflowError } from '../errors.js';

export interface LabelledObservation {
  readonly customerId: string;
  /** As given in the file (epoch ms); features are taken as of the start of its UTC day (see observationDay). */
  readonly observationTime: number;
  /** null: the file has the row but no label for it (counted and left out). */
  readonly label: 0 | 1 | null;
  readonly group: string | null;
}

export interface LabelFile {
  /** Rows grouped by the UTC midnight their features are taken at, ascending. */
  readonly byDay: ReadonlyMap<number, readonly LabelledObservation[]>;
  readonly days: readonly number[];
  readonly rows: number;
  readonly unlabelled: number;
}

/**
 * Features are point-in-time at day-bucket granularity: a row observed at T reads the buckets that
 * start before T. For a T inside a day, that day's bucket would hold events after T, so a row is
 * taken at the start of its observation day: nothing from after T can reach it.
 */
export function observationDay(time: number): number {
  return Math.floor(time / DAY_MS) * DAY_MS;
}

export function readLabelFile(path: string): LabelFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ChurnflowError('CF_INPUT_INVALID', `cannot read the labels file ${path}: ${(err as Error).message}`);
  }
  const records = /\.(nd)?jsonl?$/i.test(path) ? ndjsonRecords(path, text) : csvRecords(path, text);
  const byDay = new Map<number, LabelledObservation[]>();
  let unlabelled = 0;
  for (const { line, record } of records) {
    const obs = toObservation(path, line, record);
    if (obs.label === null) unlabelled++;
    const day = observationDay(obs.observationTime);
    const list = byDay.get(day) ?? [];
    list.push(obs);
    byDay.set(day, list);
  }
  if (records.length === 0) throw new ChurnflowError('CF_INPUT_INVALID', `the labels file ${path} has no rows`);
  const days = [...byDay.keys()].sort((a, b) => a - b);
  return { byDay, days, rows: records.length, unlabelled };
}

interface RawLabel {
  readonly line: number;
  readonly record: Record<string, unknown>;
}

function csvRecords(path: string, text: string): RawLabel[] {
  let rows: Record<string, string>[];
  try {
    rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[];
  } catch (err) {
    throw new ChurnflowError('CF_INPUT_INVALID', `labels file ${path}: ${(err as Error).message}`);
  }
  // Line numbers count the header as line 1.
  return rows.map((record, i) => ({ line: i + 2, record }));
}

function ndjsonRecords(path: string, text: string): RawLabel[] {
  const out: RawLabel[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new ChurnflowError('CF_INPUT_INVALID', `labels file ${path} line ${i + 1}: not JSON (${(err as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ChurnflowError('CF_INPUT_INVALID', `labels file ${path} line ${i + 1}: expected an object`);
    }
    out.push({ line: i + 1, record: value as Record<string, unknown> });
  });
  return out;
}

function toObservation(path: string, line: number, r: Record<string, unknown>): LabelledObservation {
  const where = `labels file ${path} line ${line}`;
  const customerId = r.customer_id;
  if (typeof customerId !== 'string' && typeof customerId !== 'number') {
    throw new ChurnflowError('CF_INPUT_INVALID', `${where}: customer_id is required (columns: customer_id, observation_time, label, optional group)`);
  }
  if (String(customerId) === '') throw new ChurnflowError('CF_INPUT_INVALID', `${where}: customer_id is empty`);
  return {
    customerId: String(customerId),
    observationTime: timeOf(where, r.observation_time),
    label: labelOf(where, r.label),
    group: r.group === undefined || r.group === null || r.group === '' ? null : String(r.group),
  };
}

function timeOf(where: string, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v !== '') {
    if (/^-?\d+$/.test(v)) return Number(v);
    const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
    if (!Number.isNaN(t)) return t;
  }
  throw new ChurnflowError('CF_INPUT_INVALID', `${where}: observation_time must be epoch ms or an ISO date/time, got ${JSON.stringify(v)}`);
}

function labelOf(where: string, v: unknown): 0 | 1 | null {
  if (v === undefined || v === null || v === '') return null;
  if (v === 1 || v === '1' || v === true || v === 'true') return 1;
  if (v === 0 || v === '0' || v === false || v === 'false') return 0;
  throw new ChurnflowError('CF_INPUT_INVALID', `${where}: label must be 0, 1, true, false or empty (unknown), got ${JSON.stringify(v)}`);
}
