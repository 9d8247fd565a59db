// The engine's lifecycle: resources start in order and close in reverse, each close runs even if an
// earlier one failed; stop() drains (stop fetching → finish in-flight batches → flush sinks → close).
// SIGTERM/SIGINT stop gracefully; a second signal forces exit.
import type { Observable, Subscription } from 'rxjs';
import { ChurnflowError, errorMessage } from './errors.js';
import type { Logger } from './observability/logger.js';
import type { EngineMetrics } from './observability/metrics.js';

export type LifecycleState = 'CREATED' | 'STARTING' | 'RUNNING' | 'DRAINING' | 'STOPPED' | 'FAILED';
const STATE_CODE: Record<LifecycleState, number> = { CREATED: 0, STARTING: 1, RUNNING: 2, DRAINING: 3, STOPPED: 4, FAILED: 5 };

interface Resource {
  readonly name: string;
  readonly close: () => Promise<void> | void;
}

export class App {
  private current: LifecycleState = 'CREATED';
  private readonly resources: Resource[] = [];
  private readonly stopHooks: (() => void)[] = [];
  private subscription: Subscription | undefined;
  private signalsInstalled = false;

  constructor(
    private readonly logger: Logger,
    private readonly metrics?: EngineMetrics,
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
  onStop(hook: () => void): void {
    this.stopHooks.push(hook);
  }

  starting(): void {
    this.transition('STARTING');
  }

  /**
   * Runs a job to completion (bounded input) or until stop(); `onDrained` runs after the last batch and
   * before resources close (e.g. a final summary that reads the state store); then everything closes.
   */
  async run<T>(job: Observable<T>, hooks: { onNext?: (value: T) => void; onDrained?: () => Promise<void> } = {}): Promise<void> {
    const onNext = hooks.onNext;
    if (this.current === 'CREATED') this.transition('STARTING');
    this.transition('RUNNING');
    let failure: unknown;
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
    if (failure !== undefined) {
      this.logger.error({ err: failure }, 'job failed');
      this.transition('FAILED');
      await this.closeAll();
      throw failure instanceof ChurnflowError ? failure : new ChurnflowError('CF_LIFECYCLE', `job failed: ${errorMessage(failure)}`, { cause: failure });
    }
    if (this.current === 'RUNNING') this.transition('DRAINING');
    try {
      await hooks.onDrained?.();
    } finally {
      await this.closeAll();
    }
    this.transition('STOPPED');
  }

  /** Start-up failed: close whatever was already opened, then mark FAILED. */
  async abort(reason: unknown): Promise<void> {
    this.logger.error({ err: reason }, 'start-up failed; closing what was opened');
    this.transition('FAILED');
    await this.closeAll();
  }

  /** Graceful stop: stop fetching; the job completes once in-flight batches are done. */
  stop(reason = 'requested'): void {
    if (this.current !== 'RUNNING' && this.current !== 'STARTING') return;
    this.logger.info({ reason }, 'stopping: no new records, draining in-flight batches');
    this.transition('DRAINING');
    for (const hook of this.stopHooks) {
      try {
        hook();
      } catch (err) {
        this.logger.warn({ err }, 'stop hook failed');
      }
    }
  }

  installSignalHandlers(exit: (code: number) => void = (code) => process.exit(code)): void {
    if (this.signalsInstalled) return;
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
  }

  private async closeAll(): Promise<void> {
    this.subscription?.unsubscribe();
    while (this.resources.length > 0) {
      const r = this.resources.pop()!;
      try {
        await r.close();
        this.logger.debug({ resource: r.name }, 'closed');
      } catch (err) {
        this.logger.error({ err, resource: r.name }, 'close failed; continuing with the rest');
      }
    }
  }

  private transition(next: LifecycleState): void {
    this.logger.debug({ from: this.current, to: next }, 'lifecycle');
    this.current = next;
    this.metrics?.lifecycleState.set(STATE_CODE[next]);
  }
}
