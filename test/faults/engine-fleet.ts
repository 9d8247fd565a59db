// The engines of one run: a main instance that faults kill and restart, and at most one second
// instance in the same group (rebalances). Every process it starts is remembered, so killAll() can
// leave nothing behind, and each one logs to its own file for the post-mortem.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';

interface Started {
  readonly name: string;
  readonly logFile: string;
  readonly engine: EngineProcess;
}

const alive = (e: EngineProcess | undefined): boolean => e !== undefined && e.child.exitCode === null && e.child.signalCode === null;

async function exitedWithin(e: EngineProcess, ms: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([e.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export class EngineFleet {
  private readonly started: Started[] = [];
  private main: Started | undefined;
  private second: Started | undefined;
  /** Exits nobody asked for (the engine died by itself); each was followed by a restart. */
  readonly unexpectedExits: string[] = [];

  constructor(
    private readonly configFile: string,
    private readonly logDir: string,
    private readonly log: (line: string) => void,
  ) {}

  get mainPid(): number | undefined {
    return this.main?.engine.child.pid;
  }

  get hasSecond(): boolean {
    return alive(this.second?.engine);
  }

  startMain(): void {
    if (alive(this.main?.engine)) throw new Error('main engine already running');
    this.main = this.start('main');
  }

  startSecond(): void {
    if (alive(this.second?.engine)) throw new Error('second engine already running');
    this.second = this.start('second');
  }

  /**
   * Resolves once the main engine, and the second one if running, have joined the group (their logs
   * say so): a fault then hits engines that consume, not ones still loading their model. An engine
   * that dies meanwhile is restarted.
   */
  async joined(timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    const hasJoined = (s: Started | undefined) => s !== undefined && s.engine.logs().includes('"msg":"joined consumer group"');
    for (;;) {
      this.superviseMain();
      if (hasJoined(this.main) && (!this.hasSecond || hasJoined(this.second))) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${this.main?.name}${this.hasSecond ? ` or ${this.second?.name}` : ''} did not join the consumer group within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL: no drain, no commit, no leave. */
  async killMain(): Promise<void> {
    const m = this.requireMain();
    m.engine.child.kill('SIGKILL');
    if ((await exitedWithin(m.engine, 15_000)) === 'timeout') throw new Error(`${m.name} survived SIGKILL for 15 s`);
  }

  /** SIGTERM and the graceful drain; returns the exit code and how long the stop took. A stop beyond timeoutMs is forced. */
  async sigterm(which: 'main' | 'second', timeoutMs = 90_000): Promise<{ code: number | null | 'forced'; ms: number }> {
    const s = which === 'main' ? this.requireMain() : this.second;
    if (!s || !alive(s.engine)) throw new Error(`no running ${which} engine`);
    const t0 = Date.now();
    s.engine.child.kill('SIGTERM');
    const code = await exitedWithin(s.engine, timeoutMs);
    if (code === 'timeout') {
      s.engine.child.kill('SIGKILL');
      await exitedWithin(s.engine, 15_000);
      return { code: 'forced', ms: Date.now() - t0 };
    }
    return { code, ms: Date.now() - t0 };
  }

  /** A supervisor's job: an engine that died by itself is noted and started again. */
  superviseMain(): void {
    const m = this.main;
    if (!m || alive(m.engine)) return;
    const reason = `${m.name} exited by itself (code ${m.engine.child.exitCode ?? m.engine.child.signalCode})`;
    this.unexpectedExits.push(reason);
    this.log(`[faults] ${reason}; restarting it (log ${m.logFile})`);
    this.main = this.start('main');
  }

  anyAlive(): boolean {
    return this.started.some((s) => alive(s.engine));
  }

  /** Every engine still running gets SIGKILL; safe to call at any time, any number of times. */
  async killAll(): Promise<void> {
    const running = this.started.filter((s) => alive(s.engine));
    for (const s of running) s.engine.child.kill('SIGKILL');
    await Promise.all(running.map((s) => exitedWithin(s.engine, 15_000)));
  }

  /** Synchronous SIGKILL of every running engine: for signal and exit handlers, which cannot await. */
  killNow(): void {
    for (const s of this.started) if (alive(s.engine)) s.engine.child.kill('SIGKILL');
  }

  /** The last lines of the most recent engines' logs (for a failure report). */
  tails(engines = 3, lines = 25): string {
    return this.started
      .slice(-engines)
      .map((s) => {
        const text = existsSync(s.logFile) ? readFileSync(s.logFile, 'utf8') : s.engine.logs();
        return `--- ${s.logFile} (last ${lines} lines)\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
      })
      .join('\n');
  }

  private requireMain(): Started {
    if (!this.main || !alive(this.main.engine)) throw new Error('no running main engine');
    return this.main;
  }

  private start(role: string): Started {
    const name = `${role}-${String(this.started.length + 1).padStart(2, '0')}`;
    const logFile = join(this.logDir, `${name}.log`);
    const s = { name, logFile, engine: startEngine(this.configFile, {}, { logFile }) };
    this.started.push(s);
    this.log(`[faults] started ${name} (pid ${s.engine.child.pid})`);
    return s;
  }
}
