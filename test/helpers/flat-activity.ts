// Rewrites churnflow's own NDJSON events into a user's shape — the flat export of
// examples/file-events (one column per attribute, ISO times, dollars, lower-case codes) — as NDJSON,
// CSV and an Avro container file, so tests can read the same history natively and through a mapping.
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import avro from 'avsc';

type Json = Record<string, unknown>;

const TYPE_BY_KIND: Record<string, string> = { login: 'LOGIN', session: 'WATCH', payment: 'PAY', plan_change: 'PLAN', support_ticket: 'TICKET', profile: 'SIGNUP' };
const STATUS: Record<string, string> = { SUCCEEDED: 'paid', FAILED: 'declined', UNKNOWN: 'unknown' };
const CHANGE: Record<string, string> = { UPGRADE: 'up', DOWNGRADE: 'down', CANCEL: 'cancel', UNKNOWN: 'unknown' };
export const FLAT_COLUMNS = [
  'id', 'user', 'at', 'type', 'device', 'ok', 'secs', 'items', 'title', 'status', 'amount', 'discount', 'currency', 'change',
  'from_plan', 'to_plan', 'reason', 'category', 'complaint', 'rating', 'signup_at', 'plan', 'pay_method', 'region', 'age', 'renew_at',
] as const;

const iso = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString() : null);
const dollars = (cents: unknown) => (typeof cents === 'number' ? Number((cents / 100).toFixed(2)) : null);

/** One native event → its flat row (null = no value); typed values (numbers, booleans). */
export function flatRow(e: Json): Record<string, string | number | boolean | null> {
  const p = e['payload'] as Json;
  const row: Record<string, string | number | boolean | null> = Object.fromEntries(FLAT_COLUMNS.map((c) => [c, null]));
  Object.assign(row, { id: e['event_id'], user: e['customer_id'], at: iso(e['event_time']), type: TYPE_BY_KIND[e['kind'] as string] });
  switch (e['kind']) {
    case 'login':
      Object.assign(row, { device: p['device'], ok: p['success'] });
      break;
    case 'session':
      Object.assign(row, { secs: p['duration_seconds'], items: p['content_items'], title: p['content_id'] });
      break;
    case 'payment':
      Object.assign(row, { status: STATUS[p['status'] as string], amount: dollars(p['amount_cents']), discount: dollars(p['discount_cents']), currency: p['currency'] });
      break;
    case 'plan_change':
      Object.assign(row, { change: CHANGE[p['change'] as string], from_plan: p['from_plan'], to_plan: p['to_plan'], reason: p['reason'] });
      break;
    case 'support_ticket':
      Object.assign(row, { category: p['category'], complaint: p['is_complaint'], rating: p['satisfaction'] });
      break;
    case 'profile':
      Object.assign(row, { signup_at: iso(p['signup_time']), plan: p['plan'], pay_method: p['payment_method'], region: p['region'], age: p['age'], renew_at: iso(p['renewal_time']) });
      break;
    default:
      throw new Error(`no flat form for kind ${String(e['kind'])}`);
  }
  return row;
}

export function readNative(path: string): Json[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Json);
}

/** NDJSON in the flat shape: absent values left out, numbers and booleans typed. */
export function writeFlatNdjson(path: string, events: readonly Json[]): void {
  const lines = events.map((e) => JSON.stringify(Object.fromEntries(Object.entries(flatRow(e)).filter(([, v]) => v !== null))));
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** CSV in the flat shape: a header row, every value as text, empty cells for no value, quotes where needed. */
export function writeFlatCsv(path: string, events: readonly Json[]): void {
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [FLAT_COLUMNS.join(','), ...events.map((e) => { const r = flatRow(e); return FLAT_COLUMNS.map((c) => cell(r[c])).join(','); })];
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** An Avro container file with the flat schema of examples/file-events/flat-activity.avsc. */
export async function writeFlatAvro(path: string, events: readonly Json[]): Promise<void> {
  const type = avro.Type.forSchema(JSON.parse(readFileSync('examples/file-events/flat-activity.avsc', 'utf8')) as avro.Schema);
  const encoder = new avro.streams.BlockEncoder(type);
  const file = createWriteStream(path);
  // Done when the file is closed, not merely when the encoder has ended.
  const done = new Promise<void>((resolve, reject) => {
    file.on('close', () => resolve());
    file.on('error', reject);
    encoder.on('error', reject);
  });
  encoder.pipe(file);
  for (const e of events) encoder.write(flatRow(e));
  encoder.end();
  await done;
}
