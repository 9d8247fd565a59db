// The output port. write() resolves once the records are durable at the sink (acknowledged), which
// is what lets the engine commit source offsets afterwards.
export interface RecordSink<T> {
  readonly name: string;
  write(records: readonly T[]): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** JSON.stringify replacer: bytes as base64 text, bigints as decimal text. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function toJsonLine(record: unknown): string {
  return `${JSON.stringify(record, jsonReplacer)}\n`;
}
