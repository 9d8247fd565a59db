// Keeps a running engine's models in step with the registry: reads the aliases every pollIntervalMs
// and, when one moved (promote, rollback), loads that bundle and swaps it in between batches. A bundle
// that fails to load is logged and counted, and the engine keeps what it had (or the fallback rules,
// if it has no production model at all); it is tried again when the alias moves or after a back-off.
import type { Logger } from '../observability/logger.js';
import type { EngineMetrics } from '../observability/metrics.js';
import type { AliasName, AliasState, AliasStore } from '../registry/alias-store.js';
import { errorMessage } from '../errors.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { Clock } from '../time/clock.js';
import type { ModelHandle } from './model-handle.js';
import { loadScoringModel, type ScoringModel, type ScoringModelOptions } from './scoring-model.js';

export interface ModelWatcherOptions {
  readonly store: AliasStore;
  readonly bundleDir: (version: string) => string;
  readonly name: string;
  /**
   * Which alias fills each slot of the handle: the production slot (what scores; usually the
   * production alias, the candidate alias for an engine that runs the candidate on its own) and,
   * for shadow or canary, the candidate slot.
   */
  readonly slots: { readonly production: AliasName; readonly candidate?: AliasName };
  readonly spec: CompiledSpec;
  readonly handle: ModelHandle;
  readonly clock: Clock;
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  readonly metrics?: EngineMetrics;
  readonly load?: (dir: string) => Promise<ScoringModel>;
  /** Called after a swap (e.g. to point the rollback guard and the drift monitor at the new model). */
  readonly onSwap?: (alias: AliasName, model: ScoringModel | undefined, previous: ScoringModel | undefined) => void;
  readonly loadOptions?: ScoringModelOptions;
}

interface Failure {
  readonly version: string;
  readonly at: number;
}

/** A failed version is retried after this long even if its alias did not move (e.g. a file being copied in). */
const RETRY_FAILED_MS = 30_000;

export class ModelWatcher {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly failed = new Map<AliasName, Failure>();
  private lastRevision = -1;
  private stopped = false;

  constructor(private readonly o: ModelWatcherOptions) {}

  /** Loads what the aliases point at now; resolves even when nothing could be loaded (fallback). */
  async start(): Promise<void> {
    await this.poll();
    this.schedule();
  }

  /** Reads the aliases once and applies any change (also what the timer runs). */
  poll(): Promise<void> {
    this.polling ??= this.sync().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule());
    }, this.o.pollIntervalMs);
    this.timer.unref();
  }

  private async sync(): Promise<void> {
    let state: AliasState;
    try {
      state = await this.o.store.read(this.o.name);
    } catch (err) {
      this.o.logger.warn({ err, model: this.o.name }, 'cannot read model aliases; keeping the current models');
      return;
    }
    const moved = state.revision !== this.lastRevision;
    this.lastRevision = state.revision;
    await this.apply('production', state.aliases[this.o.slots.production], moved);
    if (this.o.slots.candidate) await this.apply('candidate', state.aliases[this.o.slots.candidate], moved);
  }

  /** `alias` names the handle's slot; the version comes from the alias configured for it. */
  private async apply(alias: AliasName, version: string | undefined, moved: boolean): Promise<void> {
    const { handle, logger, metrics } = this.o;
    const current = handle.get(alias);
    if (current?.manifest.version === version) return;
    if (version === undefined) {
      if (alias === 'production') return; // never drop production for nothing: keep scoring with what we have
      handle.set(alias, undefined);
      logger.info({ alias, from: current?.manifest.version }, 'alias cleared; model unloaded');
      this.o.onSwap?.(alias, undefined, current);
      return;
    }
    const failure = this.failed.get(alias);
    if (!moved && failure?.version === version && this.o.clock.now() - failure.at < RETRY_FAILED_MS) return;
    const dir = this.o.bundleDir(version);
    let model: ScoringModel;
    try {
      model = await (this.o.load ?? ((d) => loadScoringModel(d, this.o.spec, this.o.loadOptions ?? {})))(dir);
    } catch (err) {
      this.failed.set(alias, { version, at: this.o.clock.now() });
      metrics?.modelLoadFailures.inc({ alias, model_version: version });
      logger.error({ err: errorMessage(err), alias, model: `${this.o.name}@${version}`, dir, keeping: current?.manifest.version ?? 'fallback rules' }, 'cannot load the model an alias points at; keeping the current one');
      return;
    }
    if (this.stopped) {
      await model.close();
      return;
    }
    this.failed.delete(alias);
    const previous = handle.set(alias, model);
    metrics?.modelSwaps.inc({ alias, from_version: previous?.manifest.version ?? 'none', to_version: version });
    if (alias === 'production') {
      if (previous) metrics?.modelInfo.remove({ model_name: previous.manifest.name, model_version: previous.manifest.version });
      metrics?.modelInfo.set({ model_name: model.manifest.name, model_version: version }, 1);
    }
    logger.info({ alias, model: this.o.name, from: previous?.manifest.version ?? null, to: version }, previous ? 'model swapped' : 'model loaded');
    this.o.onSwap?.(alias, model, previous);
  }
}
