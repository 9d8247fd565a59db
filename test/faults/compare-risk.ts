// Compares the risk topic of a fault run with the one of an uninterrupted reference run, keyed by
// event_id. Pure: decoded messages in, counts and a few example diffs out.
import type { RiskEventRecord } from '../../src/events/wire-types.js';
import { canonicalJson, fieldDiffs } from './canonical-json.js';

export interface RiskMessage {
  readonly value: RiskEventRecord;
  /** The published message value (registry wire format). */
  readonly raw: Buffer;
}

export interface RiskComparison {
  /** Risk events of the reference run (one per id). */
  readonly expected: number;
  /** Reference ids the fault run never published. */
  readonly missing: number;
  /** Ids the fault run published that the reference did not. */
  readonly extra: number;
  /**
   * Ids whose content (every field but processing_time) differs from the reference, plus ids whose
   * copies in the fault run are not byte-identical to each other (a redelivery must re-emit the stored bytes).
   */
  readonly different: number;
  /** Copies beyond the first that are byte-identical to it: harmless, consumers dedupe by id. */
  readonly identicalDuplicates: number;
  readonly examples: readonly string[];
}

/** processing_time is wall clock: it differs between two runs by definition, never within one id's copies. */
const contentOf = (r: RiskEventRecord): string => canonicalJson({ ...r, processing_time: 0 });
const plain = (r: RiskEventRecord): Record<string, unknown> => JSON.parse(JSON.stringify(r)) as Record<string, unknown>;

export function compareRisk(reference: readonly RiskMessage[], faulted: readonly RiskMessage[], maxExamples = 5): RiskComparison {
  const ref = new Map<string, RiskMessage>();
  for (const m of reference) {
    if (ref.has(m.value.event_id)) throw new Error(`the reference run published risk event ${m.value.event_id} twice: an uninterrupted run must publish each id once`);
    ref.set(m.value.event_id, m);
  }
  const copies = new Map<string, RiskMessage[]>();
  for (const m of faulted) {
    const list = copies.get(m.value.event_id);
    if (list) list.push(m);
    else copies.set(m.value.event_id, [m]);
  }

  const examples = { missing: [] as string[], extra: [] as string[], different: [] as string[] };
  const note = (kind: keyof typeof examples, line: string) => {
    if (examples[kind].length < maxExamples) examples[kind].push(`  ${kind} ${line}`);
  };
  const describe = (r: RiskEventRecord) => `${r.event_id} (customer ${r.customer_id}, event_time ${new Date(r.event_time).toISOString()}, score ${r.score}, band ${r.band})`;

  let missing = 0;
  for (const [id, m] of ref) {
    if (!copies.has(id)) {
      missing++;
      note('missing', describe(m.value));
    }
  }
  let extra = 0;
  let different = 0;
  let identicalDuplicates = 0;
  for (const [id, list] of copies) {
    const first = list[0]!;
    const expected = ref.get(id);
    if (!expected) {
      extra++;
      note('extra', `${describe(first.value)}${list.length > 1 ? `, ${list.length} copies` : ''}`);
    }
    const divergent = list.find((c) => !c.raw.equals(first.raw));
    const wrong = expected ? list.find((c) => contentOf(c.value) !== contentOf(expected.value)) : undefined;
    if (divergent || wrong) {
      different++;
      if (wrong && expected) note('different', `${id} vs reference: ${fieldDiffs(plain(expected.value), plain(wrong.value), ['processing_time']).join('; ')}`);
      else if (divergent) note('different', `${id} copies differ: ${fieldDiffs(plain(first.value), plain(divergent.value)).join('; ')}`);
    }
    identicalDuplicates += list.slice(1).filter((c) => c.raw.equals(first.raw)).length;
  }
  return { expected: ref.size, missing, extra, different, identicalDuplicates, examples: [...examples.missing, ...examples.extra, ...examples.different] };
}

export function riskLine(c: RiskComparison): string {
  return `faults: expected ${c.expected} risk events; missing ${c.missing}, extra ${c.extra}, different ${c.different}, identical duplicates ${c.identicalDuplicates}`;
}
