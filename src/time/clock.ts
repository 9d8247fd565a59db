// Injected processing-time clocks. Logic never reads Date.now(); it asks the clock it was given.
export interface Clock {
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

export function fixedClock(timeMs: number): Clock {
  return Object.freeze({ now: () => timeMs });
}

/** A clock tests and replays move by hand. */
export class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(timeMs: number): void {
    this.t = timeMs;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
