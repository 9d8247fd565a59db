// Event-time watermarks per source stream (a Kafka partition, a file): the highest event time seen
// minus the allowed lateness. Streams are tracked apart so a lagging partition is not judged by a fast one.
export interface WatermarkOptions {
  /** How far behind the stream's highest event time an event may be and still count. */
  readonly allowedLatenessMs: number;
}

export class WatermarkTracker {
  private readonly maxSeen = new Map<string, number>();

  constructor(private readonly options: WatermarkOptions) {}

  /** Records an event time; returns true if it is later than the allowed lateness (i.e. late). */
  observe(stream: string, eventTime: number): boolean {
    const max = this.maxSeen.get(stream);
    if (max !== undefined && eventTime < max - this.options.allowedLatenessMs) return true;
    if (max === undefined || eventTime > max) this.maxSeen.set(stream, eventTime);
    return false;
  }

  watermark(stream: string): number | undefined {
    const max = this.maxSeen.get(stream);
    return max === undefined ? undefined : max - this.options.allowedLatenessMs;
  }

  /** The lowest watermark over all streams: what every stream has passed. */
  overall(): number | undefined {
    let low: number | undefined;
    for (const max of this.maxSeen.values()) {
      const w = max - this.options.allowedLatenessMs;
      if (low === undefined || w < low) low = w;
    }
    return low;
  }
}
