// The models an engine scores with right now — production and (for shadow and canary) candidate —
// swapped atomically between batches. A batch leases the set it started with; a replaced model is
// closed only when its last lease is returned, so a swap never pulls a session from under a batch.
import type { AliasName } from '../registry/alias-store.js';
import type { ScoringModel } from './scoring-model.js';

export interface ModelLease {
  readonly production: ScoringModel | undefined;
  readonly candidate: ScoringModel | undefined;
  release(): void;
}

export class ModelHandle {
  private readonly current: Record<AliasName, ScoringModel | undefined> = { production: undefined, candidate: undefined };
  private readonly leases = new Map<ScoringModel, number>();
  private readonly retired = new Set<ScoringModel>();
  private closed = false;

  constructor(private readonly onClose: (model: ScoringModel, err?: unknown) => void = () => {}) {}

  get(alias: AliasName): ScoringModel | undefined {
    return this.current[alias];
  }

  /** Puts `model` under `alias` (undefined: none); the model it replaces is closed once unleased. */
  set(alias: AliasName, model: ScoringModel | undefined): ScoringModel | undefined {
    const previous = this.current[alias];
    if (previous === model) return previous;
    this.current[alias] = model;
    if (previous && previous !== this.current.production && previous !== this.current.candidate) this.retire(previous);
    return previous;
  }

  acquire(): ModelLease {
    const production = this.current.production;
    const candidate = this.current.candidate;
    for (const m of [production, candidate]) if (m) this.leases.set(m, (this.leases.get(m) ?? 0) + 1);
    let released = false;
    return {
      production,
      candidate,
      release: () => {
        if (released) return;
        released = true;
        for (const m of [production, candidate]) {
          if (!m) continue;
          const n = (this.leases.get(m) ?? 1) - 1;
          if (n > 0) this.leases.set(m, n);
          else {
            this.leases.delete(m);
            if (this.retired.has(m)) this.closeNow(m);
          }
        }
      },
    };
  }

  /** Closes every model (after the job drained: no lease is outstanding then). */
  async close(): Promise<void> {
    this.closed = true;
    const all = new Set([...this.retired, this.current.production, this.current.candidate].filter((m): m is ScoringModel => m !== undefined));
    this.current.production = undefined;
    this.current.candidate = undefined;
    await Promise.all([...all].map((m) => m.close().catch(() => {})));
  }

  private retire(model: ScoringModel): void {
    if ((this.leases.get(model) ?? 0) === 0) this.closeNow(model);
    else this.retired.add(model);
  }

  private closeNow(model: ScoringModel): void {
    this.retired.delete(model);
    if (this.closed) return;
    model.close().then(
      () => this.onClose(model),
      (err: unknown) => this.onClose(model, err),
    );
  }
}
