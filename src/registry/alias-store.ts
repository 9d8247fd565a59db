// Model aliases (production, candidate) → versions, with an append-only history of every change.
// The port is a compare-and-set on a per-model revision, so two operators (or two hosts) promoting at
// once cannot both win: the loser gets CF_ALIAS_CONFLICT and re-reads. Implementations: a JSON file
// per model (file-alias-store.ts, one host) and a Redis key per model (redis-alias-store.ts, shared).
// The pure state transition (applyAliasChange) and the stored-JSON check live here so both agree.
import { z } from 'zod';
import { ChurnflowError } from '../errors.js';

export const ALIAS_NAMES = ['production', 'candidate'] as const;
export type AliasName = (typeof ALIAS_NAMES)[number];

export const ALIAS_ACTIONS = ['promote', 'rollback', 'set', 'clear'] as const;
export type AliasAction = (typeof ALIAS_ACTIONS)[number];

export interface AliasChange {
  alias: AliasName;
  /** The version the alias pointed at before the change (null: unset). */
  from: string | null;
  /** The version it points at after (null: cleared). */
  to: string | null;
  action: AliasAction;
  reason: string;
  /** The promotion gate failed and --force applied the change anyway. */
  forced: boolean;
  /** Who made the change, e.g. `alice@build-host`. */
  actor: string;
  /** Epoch ms, from the store's clock. */
  at: number;
  /** The state revision this change produced. */
  revision: number;
}

export interface AliasState {
  name: string;
  /** 0 when nothing is stored; every applied change adds 1. */
  revision: number;
  aliases: Partial<Record<AliasName, string>>;
  /** Oldest first, at most HISTORY_LIMIT entries. */
  history: AliasChange[];
}

export type AliasChangeRequest = Omit<AliasChange, 'revision' | 'at'>;

export interface AliasStore {
  /** Revision 0 and no aliases when nothing is stored. */
  read(name: string): Promise<AliasState>;
  /**
   * Atomic compare-and-set: applies the change only if the stored revision equals expectedRevision;
   * returns the new state, or throws ChurnflowError CF_ALIAS_CONFLICT (retriable: re-read, re-decide).
   */
  update(name: string, expectedRevision: number, change: AliasChangeRequest): Promise<AliasState>;
  close(): Promise<void>;
}

/** History entries kept per model (the oldest are dropped beyond this). */
export const HISTORY_LIMIT = 100;

/** Written into the stored JSON; a reader refuses any other format. */
export const ALIAS_STATE_FORMAT = 'churnflow.aliases/v1';

/** Model names are directory names and key parts: letters, digits, . _ - (as config model.name). */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkModelName(name: string): string {
  if (typeof name !== 'string' || !MODEL_NAME_PATTERN.test(name) || name.length > 200) {
    throw new ChurnflowError('CF_INPUT_INVALID', `invalid model name ${JSON.stringify(name)}: letters, digits, '.', '_', '-', starting with a letter or digit`);
  }
  return name;
}

export function isAliasName(value: string): value is AliasName {
  return (ALIAS_NAMES as readonly string[]).includes(value);
}

export function emptyAliasState(name: string): AliasState {
  return { name, revision: 0, aliases: {}, history: [] };
}

export function aliasConflict(name: string, expectedRevision: number, actualRevision: number | null): ChurnflowError {
  const actual = actualRevision === null ? 'it changed' : `it is at revision ${actualRevision}`;
  return new ChurnflowError(
    'CF_ALIAS_CONFLICT',
    `aliases of model '${name}' changed concurrently: expected revision ${expectedRevision}, ${actual}; read them again and retry`,
    { retriable: true, details: { name, expectedRevision, actualRevision } },
  );
}

/**
 * The state after `change`, stamped with `at` and the next revision. Pure; throws CF_INPUT_INVALID for
 * a malformed change (unknown alias/action, `from` that is not the alias's current value, a clear with
 * a target, a promote without one).
 */
export function applyAliasChange(state: AliasState, change: AliasChangeRequest, at: number): AliasState {
  const bad = (why: string) => new ChurnflowError('CF_INPUT_INVALID', `alias change for model '${state.name}' rejected: ${why}`);
  if (!isAliasName(change.alias)) throw bad(`unknown alias ${JSON.stringify(change.alias)} (expected ${ALIAS_NAMES.join(' or ')})`);
  if (!(ALIAS_ACTIONS as readonly string[]).includes(change.action)) throw bad(`unknown action ${JSON.stringify(change.action)}`);
  const current = state.aliases[change.alias] ?? null;
  if ((change.from ?? null) !== current) throw bad(`'from' is ${JSON.stringify(change.from)}, but ${change.alias} points at ${JSON.stringify(current)}`);
  if (change.action === 'clear' ? change.to !== null : typeof change.to !== 'string' || change.to.length === 0) {
    throw bad(change.action === 'clear' ? "a 'clear' has no target version" : `'${change.action}' needs a target version`);
  }
  if (typeof change.actor !== 'string' || typeof change.reason !== 'string' || typeof change.forced !== 'boolean') throw bad('actor, reason (strings) and forced (boolean) are required');
  if (!Number.isFinite(at)) throw bad(`time ${at} is not a number`);
  const revision = state.revision + 1;
  const entry: AliasChange = {
    alias: change.alias,
    from: current,
    to: change.to,
    action: change.action,
    reason: change.reason,
    forced: change.forced,
    actor: change.actor,
    at,
    revision,
  };
  const aliases: Partial<Record<AliasName, string>> = {};
  for (const a of ALIAS_NAMES) {
    const v = a === change.alias ? change.to : state.aliases[a];
    if (v) aliases[a] = v;
  }
  return { name: state.name, revision, aliases, history: [...state.history, entry].slice(-HISTORY_LIMIT) };
}

const changeSchema = z
  .object({
    alias: z.enum(ALIAS_NAMES),
    from: z.string().nullable(),
    to: z.string().nullable(),
    action: z.enum(ALIAS_ACTIONS),
    reason: z.string(),
    forced: z.boolean(),
    actor: z.string(),
    at: z.number(),
    revision: z.number().int().min(1),
  })
  .strict();

const storedSchema = z
  .object({
    format: z.literal(ALIAS_STATE_FORMAT),
    name: z.string(),
    revision: z.number().int().min(0),
    aliases: z.object({ production: z.string().optional(), candidate: z.string().optional() }).strict(),
    history: z.array(changeSchema),
  })
  .strict();

/** The stored form: the state with a format marker first. Stable key order, so files diff well. */
export function serializeAliasState(state: AliasState, pretty = false): string {
  const aliases: Partial<Record<AliasName, string>> = {};
  for (const a of ALIAS_NAMES) if (state.aliases[a]) aliases[a] = state.aliases[a];
  const stored = {
    format: ALIAS_STATE_FORMAT,
    name: state.name,
    revision: state.revision,
    aliases,
    history: state.history.map((h) => ({ alias: h.alias, action: h.action, from: h.from, to: h.to, reason: h.reason, forced: h.forced, actor: h.actor, at: h.at, revision: h.revision })),
  };
  return pretty ? `${JSON.stringify(stored, null, 2)}\n` : JSON.stringify(stored);
}

/** Parses and checks a stored state; `where` names the file or key in the error. */
export function parseAliasState(text: string, name: string, where: string): AliasState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ChurnflowError('CF_ALIAS_STORE_FAILED', `${where}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const res = storedSchema.safeParse(raw);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ChurnflowError('CF_ALIAS_STORE_FAILED', `${where}: not a ${ALIAS_STATE_FORMAT} alias state: ${issues}`);
  }
  const s = res.data;
  if (s.name !== name) throw new ChurnflowError('CF_ALIAS_STORE_FAILED', `${where}: holds the aliases of model '${s.name}', expected '${name}'`);
  const aliases: Partial<Record<AliasName, string>> = {};
  if (s.aliases.production !== undefined) aliases.production = s.aliases.production;
  if (s.aliases.candidate !== undefined) aliases.candidate = s.aliases.candidate;
  return { name: s.name, revision: s.revision, aliases, history: s.history };
}
