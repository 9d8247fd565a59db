// Progress for long runs: a live line on a terminal (events, events/s, share done, ETA), plain log
// lines every few seconds otherwise (CI logs, files).
export interface ProgressSource {
  records(): number;
  fraction(): number | undefined;
  /** More to say on the line (e.g. rows written so far). */
  detail?(): string;
}

export function startProgress(label: string, source: ProgressSource, stream: NodeJS.WriteStream = process.stderr): { stop(): void } {
  const tty = Boolean(stream.isTTY);
  const started = performance.now();
  const render = () => {
    const secs = (performance.now() - started) / 1000;
    const n = source.records();
    const rate = n / Math.max(secs, 1e-3);
    const f = source.fraction();
    const eta = f !== undefined && f > 0.001 ? (secs * (1 - f)) / f : undefined;
    const parts = [`${label}`, `${n.toLocaleString('en-US')} records`, `${Math.round(rate).toLocaleString('en-US')}/s`];
    if (f !== undefined) parts.push(`${(100 * f).toFixed(1)}%`);
    if (eta !== undefined) parts.push(`ETA ${eta < 90 ? `${eta.toFixed(0)} s` : `${(eta / 60).toFixed(1)} min`}`);
    const detail = source.detail?.();
    if (detail) parts.push(detail);
    return parts.join('  ');
  };
  const timer = setInterval(
    () => {
      if (tty) stream.write(`\r\x1b[2K${render()}`);
      else stream.write(`${new Date().toISOString()} ${render()}\n`);
    },
    tty ? 250 : 5000,
  );
  return {
    stop() {
      clearInterval(timer);
      if (tty) stream.write(`\r\x1b[2K${render()}\n`);
    },
  };
}
