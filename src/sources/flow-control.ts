// Credit-based backpressure: a source takes a credit before emitting a record and the engine returns
// it once the record is fully handled (outputs acknowledged). RxJS has no backpressure of its own, so
// this bounds how much a fast source can run ahead of a slow store or sink.
export class FlowControl {
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly maxInFlight: number) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
  }

  get outstanding(): number {
    return this.inFlight;
  }

  /** Takes a credit if one is free, without waiting. */
  tryAcquire(): boolean {
    if (this.inFlight >= this.maxInFlight) return false;
    this.inFlight++;
    return true;
  }

  /** Resolves once a credit is taken. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(n = 1): void {
    this.inFlight = Math.max(0, this.inFlight - n);
    while (this.inFlight < this.maxInFlight && this.waiters.length > 0) {
      this.inFlight++;
      this.waiters.shift()!();
    }
  }
}
