// The engines of one run, by role: a main instance that faults kill and restart, a second one that
// joins and leaves (rebalances), or the members of a fleet run ('engine-1'…) in the same group. Every process it starts is remembered, so killAll() can
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
  /** The latest process of each role ('main', 'second', 'engine-2', …). */
  private readonly members = new Map<string, Started>();
  /** Roles a supervisor keeps running: started and not stopped on purpose since. */
  private readonly wanted = new Set<string>();
  /** Exits nobody asked for (the engine died by itself); each was followed by a restart. */
  readonly unexpectedExits: string[] = [];

  /** `env`: extra environment per role (e.g. its instance id). */
  constructor(
    private readonly configFile: string,
    private readonly logDir: string,
    private readonly log: (line: string) => void,
    private readonly env: (role: string) => Record<string, string> = () => ({}),
  ) {}

  get mainPid(): number | undefined {
    return this.pid('main');
  }

  pid(role: string): number | undefined {
    return this.members.get(role)?.engine.child.pid;
  }

  get hasSecond(): boolean {
    return this.isRunning('second');
  }

  isRunning(role: string): boolean {
    return alive(this.members.get(role)?.engine);
  }

  /** Roles whose engine is running now, in start order. */
  running(): string[] {
    return [...this.members.entries()].filter(([, s]) => alive(s.engine)).map(([role]) => role);
  }

  startMain(): void {
    this.startRole('main');
  }

  startSecond(): void {
    this.startRole('second');
  }

  startRole(role: string): void {
    if (this.isRunning(role)) throw new Error(`${role} engine already running`);
    this.members.set(role, this.start(role));
    this.wanted.add(role);
  }

  /**
   * Resolves once every running engine has joined the group (its log says so): a fault then hits
   * engines that consume, not ones still loading their model. An engine that dies meanwhile is restarted.
   */
  async joined(timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    const hasJoined = (s: Started | undefined) => s !== undefined && s.engine.logs().includes('"msg":"joined consumer group"');
    for (;;) {
      this.supervise();
      const waiting = this.running().filter((role) => !hasJoined(this.members.get(role)));
      if (waiting.length === 0) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${waiting.map((r) => this.members.get(r)?.name).join(', ')} did not join the consumer group within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL: no drain, no commit, no leave. */
  async killMain(): Promise<void> {
    await this.kill('main');
  }

  /** SIGKILL of one role's engine; the supervisor does not bring it back (start it again to). */
  async kill(role: string): Promise<void> {
    const m = this.require(role);
    this.wanted.delete(role);
    m.engine.child.kill('SIGKILL');
    if ((await exitedWithin(m.engine, 15_000)) === 'timeout') throw new Error(`${m.name} survived SIGKILL for 15 s`);
  }

  /** SIGTERM and the graceful drain; returns the exit code and how long the stop took. A stop beyond timeoutMs is forced. */
  async sigterm(which: string, timeoutMs = 90_000): Promise<{ code: number | null | 'forced'; ms: number }> {
    const s = this.require(which);
    this.wanted.delete(which);
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

  /** A supervisor's job: an engine that died by itself is noted and started again (every role it keeps running). */
  supervise(): void {
    for (const role of this.wanted) {
      const m = this.members.get(role);
      if (!m || alive(m.engine)) continue;
      const reason = `${m.name} exited by itself (code ${m.engine.child.exitCode ?? m.engine.child.signalCode})`;
      this.unexpectedExits.push(reason);
      this.log(`[faults] ${reason}; restarting it (log ${m.logFile})`);
      this.members.set(role, this.start(role));
    }
  }

  anyAlive(): boolean {
    return this.started.some((s) => alive(s.engine));
  }

  /** Every engine still running gets SIGKILL; safe to call at any time, any number of times. */
  async killAll(): Promise<void> {
    this.wanted.clear();
    const running = this.started.filter((s) => alive(s.engine));
    for (const s of running) s.engine.child.kill('SIGKILL');
    await Promise.all(running.map((s) => exitedWithin(s.engine, 15_000)));
  }

  /** Synchronous SIGKILL of every running engine: for signal and exit handlers, which cannot await. */
  killNow(): void {
    for (const s of this.started) if (alive(s.engine)) s.engine.child.kill('SIGKILL');
  }

  /** The /metrics base URL a running role's engine logged at start ('churnflow running'), if it did. */
  httpUrl(role: string): string | undefined {
    const s = this.members.get(role);
    if (!s || !alive(s.engine)) return undefined;
    for (const line of s.engine.logs().split('\n')) {
      if (!line.includes('"msg":"churnflow running"')) continue;
      try {
        const http = (JSON.parse(line) as { http?: string }).http;
        if (http) return http;
      } catch {
        // not a whole line
      }
    }
    return undefined;
  }

  /** Per engine process (by name, in start order): the partitions it owned after each group join, as its log reports them. */
  assignments(): Map<string, number[][]> {
    const out = new Map<string, number[][]>();
    for (const s of this.started) {
      const joins: number[][] = [];
      for (const line of s.engine.logs().split('\n')) {
        if (!line.includes('"msg":"joined consumer group"')) continue;
        try {
          const assigned = (JSON.parse(line) as { assigned?: Record<string, number[]> }).assigned ?? {};
          joins.push(Object.values(assigned).flat().sort((a, b) => a - b));
        } catch {
          // a line cut by a kill -9: not a join we can read
        }
      }
      out.set(s.name, joins);
    }
    return out;
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

  private require(role: string): Started {
    const s = this.members.get(role);
    if (!s || !alive(s.engine)) throw new Error(`no running ${role} engine`);
    return s;
  }

  private start(role: string): Started {
    const name = `${role}-${String(this.started.length + 1).padStart(2, '0')}`;
    const logFile = join(this.logDir, `${name}.log`);
    const s = { name, logFile, engine: startEngine(this.configFile, this.env(role), { logFile }) };
    this.started.push(s);
    this.log(`[faults] started ${name} (pid ${s.engine.child.pid})`);
    return s;
  }
}
