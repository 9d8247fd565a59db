// The model registry: immutable bundles on disk at <root>/<name>/<version>/ plus movable aliases
// (production, candidate) in an AliasStore. Registering copies a validated bundle in (a version is
// written once: registering it again is a no-op if byte-identical, refused otherwise); promoting runs
// the promotion gate and moves an alias with a compare-and-set; rolling back moves production to the
// version it had before. docs/model-registry.md describes the layout, the gate and the CLI.
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, relative, resolve as resolvePath } from 'node:path';
import type { ChurnflowConfig } from '../config/config-schema.js';
import { ChurnflowError, errorMessage } from '../errors.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { ModelManifest } from '../scoring/manifest.js';
import { readManifest } from '../scoring/model-bundle.js';
import type { Clock } from '../time/clock.js';
import { ALIAS_NAMES, checkModelName, isAliasName, type AliasChange, type AliasName, type AliasState, type AliasStore } from './alias-store.js';
import { FileAliasStore } from './file-alias-store.js';
import { evaluatePromotion, failedChecks, type GateCheck, type GateResult, type PromotionPolicy } from './promotion-gate.js';
import { RedisAliasStore } from './redis-alias-store.js';
import { redisClientOptions, redisConnection } from '../config/redis-connection.js';

/** A version directory name: semantic version, build/pre-release parts without path characters. */
export const VERSION_PATTERN = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

export function checkVersion(version: string): string {
  if (typeof version !== 'string' || !VERSION_PATTERN.test(version)) {
    throw new ChurnflowError('CF_INPUT_INVALID', `invalid model version ${JSON.stringify(version)}: expected a semantic version like 1.2.0`);
  }
  return version;
}

/** Semantic-version order (pre-releases before their release, build metadata ignored, then text as tie-break). */
export function compareSemver(a: string, b: string): number {
  const pa = VERSION_PATTERN.exec(a);
  const pb = VERSION_PATTERN.exec(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  const ra = pa[4];
  const rb = pb[4];
  if (ra !== rb) {
    if (ra === undefined) return 1;
    if (rb === undefined) return -1;
    const xa = ra.split('.');
    const xb = rb.split('.');
    for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
      const u = xa[i];
      const v = xb[i];
      if (u === undefined) return -1;
      if (v === undefined) return 1;
      const nu = /^\d+$/.test(u);
      const nv = /^\d+$/.test(v);
      if (nu && nv && Number(u) !== Number(v)) return Math.sign(Number(u) - Number(v));
      if (nu !== nv) return nu ? -1 : 1;
      if (u !== v) return u < v ? -1 : 1;
    }
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface VersionSummary {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  /** Aliases pointing at this version. */
  readonly aliases: AliasName[];
  readonly createdAt: string | null;
  readonly featureSpecHash: string | null;
  /** metrics.validation of the manifest (roc_auc, pr_auc, recall, precision, …). */
  readonly validation: Record<string, unknown> | null;
  /** training_data: the observation-time range (epoch ms) and row count the model was trained on. */
  readonly training: { readonly from: number | null; readonly to: number | null; readonly rows: number | null } | null;
  /** Why this version cannot be used (invalid or missing bundle), else null. */
  readonly problem: string | null;
}

export interface BundleFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface VersionDetails {
  readonly summary: VersionSummary;
  readonly manifest: ModelManifest;
  readonly files: readonly BundleFile[];
  /** Alias changes that moved to or from this version, oldest first. */
  readonly history: readonly AliasChange[];
  /** The alias the caller asked for, when it named one. */
  readonly via: AliasName | null;
}

export interface RegisterResult {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly outcome: 'registered' | 'unchanged';
  readonly actor: string;
}

export interface GateContext {
  readonly spec: CompiledSpec;
  readonly policy: PromotionPolicy;
  readonly intraOpThreads?: number;
}

export interface PromoteOptions {
  readonly alias?: AliasName;
  /** Apply even when the gate fails (recorded as forced in the history). */
  readonly force?: boolean;
  readonly reason?: string;
  readonly actor: string;
  readonly gate: GateContext;
}

export interface PromoteResult {
  readonly name: string;
  readonly version: string;
  readonly alias: AliasName;
  readonly previous: string | null;
  /** The alias already pointed at the version: nothing was written. */
  readonly unchanged: boolean;
  /** The gate failed and force applied it anyway. */
  readonly forced: boolean;
  readonly gate: GateResult;
  readonly state: AliasState;
}

export interface RollbackOptions {
  readonly reason: string;
  readonly actor: string;
  /** When given, a target trained on another feature spec is refused (unless force). */
  readonly spec?: CompiledSpec;
  readonly force?: boolean;
  /** Only roll back if production is still this version (an engine's verdict about the model it ran). */
  readonly ifProductionIs?: string;
}

export interface RollbackResult {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly forced: boolean;
  readonly state: AliasState;
}

/**
 * The version production goes back to: walking production's history newest first, the first version
 * that is neither the current one nor retired. A version is retired when a rollback moved production
 * away from it, until it is promoted again; so a second rollback goes further back instead of
 * returning to the version the first one left.
 */
export function rollbackTarget(history: readonly AliasChange[], current: string): string | null {
  const prod = history.filter((h) => h.alias === 'production');
  const retired = new Set<string>();
  for (const h of prod) {
    if (h.action === 'rollback' && h.from) retired.add(h.from);
    else if ((h.action === 'promote' || h.action === 'set') && h.to) retired.delete(h.to);
  }
  for (let i = prod.length - 1; i >= 0; i--) {
    for (const v of [prod[i]!.to, prod[i]!.from]) {
      if (v && v !== current && !retired.has(v)) return v;
    }
  }
  return null;
}

export interface ModelRegistryOptions {
  /** The registry root: bundles at <root>/<name>/<version>/. */
  readonly root: string;
  readonly aliases: AliasStore;
}

export class ModelRegistry {
  readonly root: string;
  readonly aliasStore: AliasStore;

  constructor(options: ModelRegistryOptions) {
    this.root = resolvePath(options.root);
    this.aliasStore = options.aliases;
  }

  bundleDir(name: string, version: string): string {
    return join(this.root, checkModelName(name), checkVersion(version));
  }

  /** The alias state of a model (revision, aliases, history). */
  aliases(name: string): Promise<AliasState> {
    return this.aliasStore.read(checkModelName(name));
  }

  async resolve(name: string, alias: AliasName): Promise<string | undefined> {
    return (await this.aliases(name)).aliases[alias];
  }

  /** Model names: the directories under the root. */
  async names(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ChurnflowError('CF_MODEL_NOT_FOUND', `cannot read the model registry ${this.root}: ${errorMessage(err)}`, { cause: err });
    }
    return entries.filter((e) => e.isDirectory() && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(e.name)).map((e) => e.name).sort();
  }

  /** Versions on disk (semver order), for one model or all; aliases pointing at missing bundles are listed with a problem. */
  async list(name?: string): Promise<VersionSummary[]> {
    const names = name === undefined ? await this.names() : [checkModelName(name)];
    const out: VersionSummary[] = [];
    for (const n of names) {
      const versions = await this.versionsOnDisk(n);
      const state = await this.aliasStore.read(n);
      if (name !== undefined && versions.length === 0 && state.revision === 0) {
        throw new ChurnflowError('CF_MODEL_NOT_FOUND', `no model '${n}' in the registry ${this.root}${await this.knownNamesHint()}`);
      }
      const pointed = Object.values(state.aliases).filter((v): v is string => typeof v === 'string' && !versions.includes(v));
      const all = [...new Set([...versions, ...pointed])].sort(compareSemver);
      for (const v of all) out.push(await this.summary(n, v, state));
    }
    return out;
  }

  /** One version in full; `versionOrAlias` is a version or 'production' / 'candidate'. */
  async inspect(name: string, versionOrAlias: string): Promise<VersionDetails> {
    checkModelName(name);
    const state = await this.aliasStore.read(name);
    let version = versionOrAlias;
    let via: AliasName | null = null;
    if (isAliasName(versionOrAlias)) {
      via = versionOrAlias;
      const v = state.aliases[versionOrAlias];
      if (!v) throw new ChurnflowError('CF_MODEL_NOT_FOUND', `model '${name}' has no ${versionOrAlias} alias${describeAliases(state)}`);
      version = v;
    }
    const dir = this.bundleDir(name, version);
    const manifest = await this.readBundle(name, version);
    const summary = await this.summary(name, version, state);
    const history = state.history.filter((h) => h.to === version || h.from === version);
    return { summary, manifest, files: await bundleFiles(dir), history, via };
  }

  /** Copies a validated bundle into <root>/<name>/<version>/ (name and version from its manifest). */
  async register(srcDir: string, options: { actor: string }): Promise<RegisterResult> {
    const src = resolvePath(srcDir);
    const manifest = await readManifest(src); // CF_MODEL_INVALID with the reasons
    const problems: string[] = [];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(manifest.name)) problems.push(`name ${JSON.stringify(manifest.name)} is not a valid model name (letters, digits, . _ -)`);
    if (!VERSION_PATTERN.test(manifest.version)) problems.push(`version ${JSON.stringify(manifest.version)} is not a plain semantic version`);
    const onnx = join(src, manifest.onnx.file);
    if (relative(src, onnx).startsWith('..')) problems.push(`onnx.file ${JSON.stringify(manifest.onnx.file)} points outside the bundle`);
    else {
      try {
        const st = await stat(onnx);
        if (!st.isFile() || st.size === 0) problems.push(`${manifest.onnx.file} is empty or not a file`);
      } catch {
        problems.push(`${manifest.onnx.file} is missing`);
      }
    }
    if (problems.length > 0) throw new ChurnflowError('CF_MODEL_INVALID', `cannot register ${src}: ${problems.join('; ')}`, { details: { problems } });

    const { name, version } = manifest;
    const dest = this.bundleDir(name, version);
    const base = { name, version, dir: dest, actor: options.actor };
    if (await exists(dest)) {
      await this.assertIdentical(src, dest, name, version);
      return { ...base, outcome: 'unchanged' };
    }
    // Copy next to the destination, then rename: a reader never sees a half-copied version.
    await mkdir(join(this.root, name), { recursive: true });
    const tmp = join(this.root, name, `.incoming-${version}-${randomBytes(4).toString('hex')}`);
    try {
      await cp(src, tmp, { recursive: true, dereference: true, errorOnExist: true, force: false });
      try {
        await rename(tmp, dest);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        await this.assertIdentical(src, dest, name, version); // registered concurrently
        return { ...base, outcome: 'unchanged' };
      }
    } catch (err) {
      if (err instanceof ChurnflowError) throw err;
      throw new ChurnflowError('CF_MODEL_INVALID', `cannot copy ${src} to ${dest}: ${errorMessage(err)}`, { cause: err });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return { ...base, outcome: 'registered' };
  }

  /**
   * Points `alias` (default production) at `version` after the promotion gate. A failed gate refuses
   * with CF_PROMOTION_REFUSED listing every failed check, unless `force` (then forced=true is recorded
   * and the caller should log a warning). A concurrent alias change fails with CF_ALIAS_CONFLICT.
   */
  async promote(name: string, version: string, options: PromoteOptions): Promise<PromoteResult> {
    const alias = options.alias ?? 'production';
    if (!isAliasName(alias)) throw new ChurnflowError('CF_INPUT_INVALID', `unknown alias ${JSON.stringify(alias)}: expected ${ALIAS_NAMES.join(' or ')}`);
    const manifest = await this.readBundle(name, version);
    const state = await this.aliasStore.read(name);
    const previous = state.aliases[alias] ?? null;
    if (previous === version) {
      return { name, version, alias, previous, unchanged: true, forced: false, gate: { ok: true, checks: [] }, state };
    }
    const gate = await this.gate(name, version, manifest, state, options.gate);
    const failed = failedChecks(gate);
    if (!gate.ok && !options.force) {
      throw new ChurnflowError(
        'CF_PROMOTION_REFUSED',
        `refusing to promote ${name}@${version} to ${alias}; failed checks:\n  - ${failed.join('\n  - ')}\n(--force promotes anyway and records it)`,
        { details: { name, version, alias, checks: gate.checks } },
      );
    }
    const forced = !gate.ok;
    const next = await this.aliasStore.update(name, state.revision, {
      alias,
      from: previous,
      to: version,
      action: 'promote',
      reason: options.reason ?? '',
      forced,
      actor: options.actor,
    });
    return { name, version, alias, previous, unchanged: false, forced, gate, state: next };
  }

  /** Moves production back to the version it had before the current one (see rollbackTarget). */
  async rollback(name: string, options: RollbackOptions): Promise<RollbackResult> {
    const state = await this.aliasStore.read(checkModelName(name));
    const current = state.aliases.production;
    const refuse = (why: string) => new ChurnflowError('CF_ROLLBACK_REFUSED', `cannot roll back ${name}: ${why}`, { details: { name, production: current ?? null } });
    if (!current) throw refuse('it has no production version');
    if (options.ifProductionIs !== undefined && options.ifProductionIs !== current) {
      throw refuse(`production is ${current} now, not ${options.ifProductionIs} (someone moved it already)`);
    }
    const target = rollbackTarget(state.history, current);
    if (!target) throw refuse(`production ${current} has no earlier production version to go back to${state.history.length > 0 ? ' (every earlier one was rolled back already)' : ''}`);
    let manifest: ModelManifest;
    try {
      manifest = await this.readBundle(name, target);
    } catch (err) {
      throw refuse(`the previous production version ${target} is not usable: ${errorMessage(err)}`);
    }
    let forced = false;
    if (options.spec && manifest.feature_spec_hash !== options.spec.hash) {
      if (!options.force) {
        throw refuse(`${target} was trained on feature spec ${manifest.feature_spec_hash}, the engine runs ${options.spec.hash} (--force rolls back anyway)`);
      }
      forced = true;
    }
    const next = await this.aliasStore.update(name, state.revision, {
      alias: 'production',
      from: current,
      to: target,
      action: 'rollback',
      reason: options.reason,
      forced,
      actor: options.actor,
    });
    return { name, from: current, to: target, forced, state: next };
  }

  async close(): Promise<void> {
    await this.aliasStore.close();
  }

  // ---------------------------------------------------------------- internals

  private async gate(name: string, version: string, manifest: ModelManifest, state: AliasState, ctx: GateContext): Promise<GateResult> {
    const prodVersion = state.aliases.production;
    let production: ModelManifest | null = null;
    const extra: GateCheck[] = [];
    if (prodVersion && prodVersion !== version) {
      try {
        production = await this.readBundle(name, prodVersion);
      } catch (err) {
        extra.push({ name: 'production', ok: false, detail: `production ${name}@${prodVersion} cannot be read, so metrics cannot be compared: ${errorMessage(err)}` });
      }
    } else if (prodVersion === version) {
      production = manifest;
    }
    const result = await evaluatePromotion({
      candidate: { dir: this.bundleDir(name, version), manifest },
      production,
      spec: ctx.spec,
      policy: ctx.policy,
      ...(ctx.intraOpThreads === undefined ? {} : { intraOpThreads: ctx.intraOpThreads }),
    });
    const checks = [...result.checks, ...extra];
    return { ok: checks.every((c) => c.ok), checks };
  }

  /** The validated manifest of a registered version; CF_MODEL_NOT_FOUND if absent, CF_MODEL_INVALID if it disagrees with its place. */
  private async readBundle(name: string, version: string): Promise<ModelManifest> {
    const dir = this.bundleDir(name, version);
    if (!(await exists(join(dir, 'manifest.json')))) {
      const versions = await this.versionsOnDisk(name);
      throw new ChurnflowError('CF_MODEL_NOT_FOUND', `no version ${version} of model '${name}' in ${this.root}${versions.length ? ` (versions: ${versions.join(', ')})` : ''}`);
    }
    const m = await readManifest(dir);
    if (m.name !== name || m.version !== version) {
      throw new ChurnflowError('CF_MODEL_INVALID', `${dir} holds ${m.name}@${m.version} according to its manifest, not ${name}@${version}`);
    }
    return m;
  }

  private async versionsOnDisk(name: string): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(join(this.root, name), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw new ChurnflowError('CF_MODEL_NOT_FOUND', `cannot read ${join(this.root, name)}: ${errorMessage(err)}`, { cause: err });
    }
    return entries.filter((e) => e.isDirectory() && VERSION_PATTERN.test(e.name)).map((e) => e.name).sort(compareSemver);
  }

  private async summary(name: string, version: string, state: AliasState): Promise<VersionSummary> {
    const aliases = ALIAS_NAMES.filter((a) => state.aliases[a] === version);
    const dir = join(this.root, name, version);
    try {
      const m = await this.readBundle(name, version);
      const td = m.training_data as Record<string, unknown>;
      const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
      return {
        name,
        version,
        dir,
        aliases,
        createdAt: m.created_at,
        featureSpecHash: m.feature_spec_hash,
        validation: { ...m.metrics.validation },
        training: { from: num(td['from']), to: num(td['to']), rows: num(td['rows']) },
        problem: null,
      };
    } catch (err) {
      const problem = err instanceof ChurnflowError && err.code === 'CF_MODEL_NOT_FOUND' ? 'bundle missing from the registry' : errorMessage(err);
      return { name, version, dir, aliases, createdAt: null, featureSpecHash: null, validation: null, training: null, problem };
    }
  }

  private async assertIdentical(src: string, dest: string, name: string, version: string): Promise<void> {
    const [a, b] = await Promise.all([bundleFiles(src), bundleFiles(dest)]);
    const bm = new Map(b.map((f) => [f.path, f.sha256]));
    const am = new Map(a.map((f) => [f.path, f.sha256]));
    const differ = [...new Set([...am.keys(), ...bm.keys()])].filter((p) => am.get(p) !== bm.get(p)).sort();
    if (differ.length > 0) {
      throw new ChurnflowError(
        'CF_MODEL_EXISTS',
        `${name}@${version} is already registered (${dest}) with different content (${differ.join(', ')}); a registered version never changes: give the new bundle a new version`,
        { details: { name, version, differ } },
      );
    }
  }

  private async knownNamesHint(): Promise<string> {
    const names = await this.names();
    return names.length ? ` (models: ${names.join(', ')})` : '';
  }
}

function describeAliases(state: AliasState): string {
  const set = ALIAS_NAMES.filter((a) => state.aliases[a]).map((a) => `${a} → ${state.aliases[a]}`);
  return set.length ? ` (${set.join(', ')})` : '';
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Every regular file under dir (relative paths, sorted) with size and sha256. */
export async function bundleFiles(dir: string): Promise<BundleFile[]> {
  const out: BundleFile[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = await stat(p); // follows symlinks, as the copy does
      if (st.isDirectory()) await walk(p);
      else if (st.isFile()) {
        const data = await readFile(p);
        out.push({ path: relative(dir, p).split('\\').join('/'), bytes: data.length, sha256: `sha256:${createHash('sha256').update(data).digest('hex')}` });
      }
    }
  };
  await walk(dir);
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

// ---------------------------------------------------------------- wiring from config

export interface OpenRegistryOptions {
  /** Overrides config model.registry.dir. */
  readonly registryDir?: string;
  readonly clock?: Clock;
  /** Connection errors of a Redis alias store (ioredis keeps reconnecting meanwhile). */
  readonly onConnectionError?: (err: Error) => void;
}

/** The alias store config.model.registry.aliasStore names: a file store under the registry dir, or Redis (state.redis.url or .cluster, and keyPrefix). */
export function createAliasStore(config: Pick<ChurnflowConfig, 'model' | 'state'>, options: OpenRegistryOptions = {}): AliasStore {
  const root = options.registryDir ?? config.model.registry.dir;
  if (config.model.registry.aliasStore === 'redis') {
    return new RedisAliasStore({
      ...redisClientOptions(redisConnection(config)),
      keyPrefix: config.state.redis.keyPrefix,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onConnectionError ? { onConnectionError: options.onConnectionError } : {}),
    });
  }
  return new FileAliasStore({ root, ...(options.clock ? { clock: options.clock } : {}) });
}

/** A registry as configured (close() closes its alias store). */
export function openModelRegistry(config: Pick<ChurnflowConfig, 'model' | 'state'>, options: OpenRegistryOptions = {}): ModelRegistry {
  return new ModelRegistry({ root: options.registryDir ?? config.model.registry.dir, aliases: createAliasStore(config, options) });
}
