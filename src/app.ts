// The engine's lifecycle: resources start in order and close in reverse, each close runs even if an
// earlier one failed; stop() drains (stop fetching → finish in-flight batches → flush sinks → close).
// SIGTERM/SIGINT stop gracefully; a second signal forces exit. States move only along TRANSITIONS.
import type { Observable, Subscription } from 'rxjs';
import { ChurnflowError, errorMessage } from './errors.js';
import type { Logger } from './observability/logger.js';
import type { EngineMetrics } from './observability/metrics.js';

export type LifecycleState = 'CREATED' | 'STARTING' | 'RUNNING' | 'DRAINING' | 'STOPPED' | 'FAILED';
const STATE_CODE: Record<LifecycleState, number> = { CREATED: 0, STARTING: 1, RUNNING: 2, DRAINING: 3, STOPPED: 4, FAILED: 5 };

/**
 * Every allowed move; anything else is a bug and throws. DRAINING straight from STARTING: a stop
 * before the job ran (nothing fetched, so nothing to drain). STOPPED and FAILED are final.
 */
export const LIFECYCLE_TRANSITIONS: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = Object.freeze({
  CREATED: Object.freeze(['STARTING', 'FAILED'] as const),
  STARTING: Object.freeze(['RUNNING', 'DRAINING', 'FAILED'] as const),
  RUNNING: Object.freeze(['DRAINING', 'FAILED'] as const),
  DRAINING: Object.freeze(['STOPPED', 'FAILED'] as const),
  STOPPED: Object.freeze([] as const),
  FAILED: Object.freeze([] as const),
});

/** The state after `from` → `to`, or a CF_LIFECYCLE error naming both and what `from` allows. */
export function nextLifecycleState(from: LifecycleState, to: LifecycleState): LifecycleState {
  const allowed = LIFECYCLE_TRANSITIONS[from];
  if (!allowed.includes(to)) {
    throw new ChurnflowError('CF_LIFECYCLE', `illegal lifecycle transition ${from} → ${to} (from ${from}: ${allowed.length ? allowed.join(', ') : 'none, it is final'})`, { details: { from, to } });
  }
  return to;
}

interface Resource {
  readonly name: string;
  readonly close: () => Promise<void> | void;
}

export class App {
  private current: LifecycleState = 'CREATED';
  private readonly resources: Resource[] = [];
  private readonly stopHooks: (() => void | Promise<void>)[] = [];
  private subscription: Subscription | undefined;
  private signalsInstalled = false;

  constructor(
    private readonly logger: Logger,
    private readonly metrics?: EngineMetrics,
    /** Longest wait for one resource's close: a client stuck on a dead peer must not keep a failed process alive. */
    private readonly closeTimeoutMs = 30_000,
  ) {
    this.metrics?.lifecycleState.set(STATE_CODE.CREATED);
  }

  get state(): LifecycleState {
    return this.current;
  }

  get ready(): boolean {
    return this.current === 'RUNNING';
  }

  /** Registers something to close on shutdown; closes run in reverse order of registration. */
  own<T>(name: string, resource: T, close: (r: T) => Promise<void> | void): T {
    this.resources.push({ name, close: () => close(resource) });
    return resource;
  }

  /** Called first on stop(): e.g. a source's stop(), so the stream completes after in-flight work. */
  onStop(hook: () => void | Promise<void>): void {
    this.stopHooks.push(hook);
  }

  starting(): void {
    this.transition('STARTING');
  }

  /**
   * Runs a job to completion (bounded input) or until stop(); `onDrained` runs after the last batch and
   * before resources close (e.g. a final summary that reads the state store); then everything closes.
   * A job error (one the batch retry gave up on, or a non-retriable one such as a crashed consumer)
   * moves to FAILED, closes everything and rejects: the caller exits non-zero.
   */
  async run<T>(job: Observable<T>, hooks: { onNext?: (value: T) => void; onDrained?: () => Promise<void> } = {}): Promise<void> {
    const onNext = hooks.onNext;
    if (this.current === 'CREATED') this.transition('STARTING');
    // Stopped while starting: the stop hooks already ran, nothing was fetched, so there is nothing to drain.
    const stoppedEarly = this.current === 'DRAINING';
    if (!stoppedEarly) this.transition('RUNNING');
    let failure: unknown;
    if (!stoppedEarly) {
      await new Promise<void>((resolve) => {
        this.subscription = job.subscribe({
          next: (v) => onNext?.(v),
          error: (err: unknown) => {
            failure = err;
            resolve();
          },
          complete: () => resolve(),
        });
      });
    }
    if (failure !== undefined) {
      this.logger.error({ err: failure, state: this.current }, `job failed: ${errorMessage(failure)}`);
      await this.fail();
      throw failure instanceof ChurnflowError ? failure : new ChurnflowError('CF_LIFECYCLE', `job failed: ${errorMessage(failure)}`, { cause: failure });
    }
    if (this.current === 'RUNNING') this.transition('DRAINING');
    try {
      await hooks.onDrained?.();
    } catch (err) {
      this.logger.error({ err }, 'after-drain hook failed');
      await this.fail();
      throw err;
    }
    await this.closeAll();
    this.transition('STOPPED');
  }

  /** Start-up failed: close whatever was already opened, then mark FAILED. */
  async abort(reason: unknown): Promise<void> {
    this.logger.error({ err: reason }, 'start-up failed; closing what was opened');
    await this.fail();
  }

  /** Graceful stop: stop fetching; the job completes once in-flight batches are done. */
  stop(reason = 'requested'): void {
    if (this.current !== 'RUNNING' && this.current !== 'STARTING') return;
    this.logger.info({ reason }, 'stopping: no new records, draining in-flight batches');
    this.transition('DRAINING');
    for (const hook of this.stopHooks) {
      try {
        const pending = hook();
        if (pending instanceof Promise) pending.catch((err: unknown) => this.logger.warn({ err }, 'stop hook failed'));
      } catch (err) {
        this.logger.warn({ err }, 'stop hook failed');
      }
    }
  }

  /**
   * SIGTERM/SIGINT: the first stops gracefully, a second forces `exit(130)` (offsets past the last
   * acknowledged batch are not committed, so the next start redelivers). Returns the uninstaller.
   */
  installSignalHandlers(exit: (code: number) => void = (code) => process.exit(code)): () => void {
    if (this.signalsInstalled) return () => {};
    this.signalsInstalled = true;
    let signals = 0;
    const handler = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) this.stop(signal);
      else {
        this.logger.warn({ signal }, 'second signal: forcing exit');
        exit(130);
      }
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
    return () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      this.signalsInstalled = false;
    };
  }

  private async fail(): Promise<void> {
    if (this.current !== 'FAILED') this.transition('FAILED');
    await this.closeAll();
  }

  private async closeAll(): Promise<void> {
    this.subscription?.unsubscribe();
    while (this.resources.length > 0) {
      const r = this.resources.pop()!;
      let timer: NodeJS.Timeout | undefined;
      try {
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), this.closeTimeoutMs);
        });
        const outcome = await Promise.race([Promise.resolve().then(() => r.close()), timedOut]);
        if (outcome === 'timeout') this.logger.error({ resource: r.name, closeTimeoutMs: this.closeTimeoutMs }, 'close timed out; continuing with the rest');
        else this.logger.debug({ resource: r.name }, 'closed');
      } catch (err) {
        this.logger.error({ err, resource: r.name }, 'close failed; continuing with the rest');
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private transition(next: LifecycleState): void {
    this.logger.debug({ from: this.current, to: next }, 'lifecycle');
    this.current = nextLifecycleState(this.current, next);
    this.metrics?.lifecycleState.set(STATE_CODE[next]);
  }
}
