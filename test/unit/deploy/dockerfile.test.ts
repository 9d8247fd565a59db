// The Dockerfile, without a container engine (none on the development machine): parsed with
// dockerfile-ast, its commands checked against package.json, .npmrc and .dockerignore, and its
// runtime stage laid out in a temporary directory exactly as its COPY lines say — then the image's
// ENTRYPOINT + CMD start there, the HEALTHCHECK command passes against it, and SIGTERM drains it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ENV_KEYS, loadConfig } from '../../../src/config/load-config.js';

const ROOT = process.cwd();
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};
const dockerfile = DockerfileParser.parse(readFileSync('Dockerfile', 'utf8'));

interface Stage {
  name: string;
  image: string;
  workdir: string;
  instructions: Instruction[];
}

/** Stages in order, FROM images with the global ARG defaults substituted. */
function stages(): Stage[] {
  const args = new Map(dockerfile.getInitialARGs().map((a) => [a.getProperty()?.getName() ?? '', a.getProperty()?.getValue() ?? '']));
  const out: Stage[] = [];
  for (const ins of dockerfile.getInstructions()) {
    const kw = ins.getKeyword();
    if (kw === 'FROM') {
      const [image, as, name] = ins.getArguments().map((a) => a.getValue());
      assert.equal(as?.toUpperCase(), 'AS', 'every stage is named');
      out.push({ name: name!, image: image!.replace(/\$\{(\w+)\}/g, (_, v: string) => args.get(v) ?? ''), workdir: '/', instructions: [] });
    } else if (out.length > 0) {
      const stage = out[out.length - 1]!;
      if (kw === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, ins.getArguments()[0]!.getValue());
      stage.instructions.push(ins);
    }
  }
  return out;
}

const words = (ins: Instruction) => ins.getArguments().map((a) => a.getValue());
const ofKind = (s: Stage, kw: string) => s.instructions.filter((i) => i.getKeyword() === kw);
const json = (kw: string) => JSON.parse(dockerfile.getInstructions().find((i) => i.getKeyword() === kw)!.getArgumentsContent()!) as string[];

/** Entries of .dockerignore, as path prefixes (the file uses no wildcards but `**​/name`). */
function ignored(path: string): boolean {
  const entries = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return entries.some((e) => (e.startsWith('**/') ? path.split('/').includes(e.slice(3)) : path === e || path.startsWith(`${e}/`)));
}

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}
function copies(stage: Stage): Copy[] {
  return ofKind(stage, 'COPY').map((ins) => {
    const flags = (ins as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags();
    const from = flags.find((f) => f.getName() === 'from')?.getValue() ?? undefined;
    const w = words(ins).filter((x) => !x.startsWith('--'));
    return { ...(from ? { from } : {}), sources: w.slice(0, -1), dest: w[w.length - 1]! };
  });
}

/** Environment the runtime stage sets (ENV lines). */
function runtimeEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of ofKind(stage, 'ENV')) {
    for (const p of (ins as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties()) env[p.getName()] = p.getValue() ?? '';
  }
  return env;
}

test('Dockerfile: a build stage and a slim Node 20 runtime stage that runs as a non-root user', () => {
  const all = stages();
  assert.ok(all.length >= 2, 'multi-stage');
  for (const s of all) assert.match(s.image, /^node:20[.\d]*-[a-z]+-slim$/, `stage ${s.name}: a slim Node 20 (glibc) image, got ${s.image}`);
  const runtime = all[all.length - 1]!;
  const users = ofKind(runtime, 'USER').map((i) => words(i)[0]);
  assert.ok(users.length > 0 && !['root', '0'].includes(users[users.length - 1]!), `final USER ${users.join(',')}`);
  assert.equal(ofKind(runtime, 'HEALTHCHECK').length, 1, 'a HEALTHCHECK in the runtime stage');
  assert.match(ofKind(runtime, 'HEALTHCHECK')[0]!.getArgumentsContent() ?? '', /\/healthz/);
});

test('Dockerfile: npm commands use existing scripts, production dependencies only, and the CPU ONNX runtime without install scripts', () => {
  const all = stages();
  const runtime = all[all.length - 1]!;
  for (const s of all) {
    for (const ins of ofKind(s, 'RUN')) {
      const cmd = ins.getArgumentsContent() ?? '';
      for (const m of cmd.matchAll(/npm run ([\w:-]+)/g)) assert.ok(pkg.scripts[m[1]!], `npm run ${m[1]} is a package script`);
      if (/npm ci/.test(cmd)) {
        // `prepare` runs tsc, onnxruntime-node's postinstall fetches CUDA libraries (denied in package.json allowScripts): both off.
        assert.match(cmd, /npm ci[^&]*--ignore-scripts/, `${s.name}: ${cmd}`);
        const copied = copies(s).filter((c) => c.sources.includes('package-lock.json') && c.sources.includes('.npmrc'));
        assert.ok(copied.length > 0 && s.instructions.indexOf(ins) > s.instructions.findIndex((i) => i.getKeyword() === 'COPY'), `${s.name}: package-lock.json and .npmrc copied before npm ci`);
      }
    }
  }
  const runtimeCi = ofKind(runtime, 'RUN').map((i) => i.getArgumentsContent() ?? '').filter((c) => c.includes('npm ci'));
  assert.equal(runtimeCi.length, 1);
  assert.match(runtimeCi[0]!, /--omit=dev/);
  assert.ok(!ofKind(runtime, 'RUN').some((i) => /npm (run|install|i )/.test(i.getArgumentsContent() ?? '')), 'no build or install in the runtime stage');
  for (const rm of runtimeCi[0]!.matchAll(/rm -rf ([^&;]+)/g)) {
    for (const path of rm[1]!.trim().split(/\s+/)) assert.doesNotMatch(path, /linux/, `the runtime stage keeps the Linux ONNX runtime (rm ${path})`);
  }
  // npm ≥ 11.16 reads allowScripts from package.json: onnxruntime-node's postinstall (the CUDA download) never runs.
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  // The CPU runtime the image relies on is inside the npm package itself, for both Linux architectures.
  const ort = join(ROOT, 'node_modules', 'onnxruntime-node', 'bin');
  for (const arch of ['x64', 'arm64']) {
    const found = readdirSync(ort).some((napi) => existsSync(join(ort, napi, 'linux', arch, 'onnxruntime_binding.node')) && existsSync(join(ort, napi, 'linux', arch, 'libonnxruntime.so.1')));
    assert.ok(found, `onnxruntime-node ships the linux/${arch} CPU binding`);
  }
});

test('Dockerfile: the build stage applies patches/ after npm ci, and the runtime stage takes each patched package from it', () => {
  const all = stages();
  const [build, runtime] = [all[0]!, all[all.length - 1]!];
  const patched = readdirSync('patches').filter((f) => f.endsWith('.patch')).map((f) => f.replace(/\+[^+]+\.patch$/, '').replace(/^(@[^+]+)\+/, '$1/'));
  assert.ok(patched.includes('kafkajs'), `patches/ holds the kafkajs patch (${patched.join(', ')})`);
  // prepare, not postinstall: it runs at npm ci in this repository, not when the package is installed as another's dependency.
  assert.match(pkg.scripts['prepare'] ?? '', /^patch-package --error-on-fail && /, 'npm ci applies the patches (prepare) and fails when one does not apply');
  assert.equal(pkg.scripts['postinstall'], undefined);
  assert.ok(copies(build).some((c) => c.sources.includes('patches')), 'the build stage copies patches/');
  const run = ofKind(build, 'RUN').map((i) => i.getArgumentsContent() ?? '').find((c) => c.includes('npm ci'));
  assert.match(run ?? '', /npm ci[^&]*&&\s*npx patch-package --error-on-fail/, 'npm ci --ignore-scripts skips prepare: patch-package runs right after it and fails the build if a patch does not apply');
  for (const name of patched) {
    const copied = copies(runtime).find((c) => c.from === build.name && c.sources.includes(`${build.workdir}/node_modules/${name}`));
    assert.ok(copied, `the runtime stage copies the patched node_modules/${name} from the build stage`);
    assert.equal(copied.dest, `./node_modules/${name}`);
    const ci = runtime.instructions.findIndex((i) => i.getKeyword() === 'RUN' && (i.getArgumentsContent() ?? '').includes('npm ci'));
    const cp = runtime.instructions.findIndex((i) => i.getKeyword() === 'COPY' && words(i).includes(`${build.workdir}/node_modules/${name}`));
    assert.ok(cp > ci, `node_modules/${name} is copied after the runtime npm ci (which would install the unpatched one over it)`);
  }
});

test('Dockerfile: COPY sources exist and are not dockerignored; the runtime stage gets every published file', () => {
  const all = stages();
  const runtime = all[all.length - 1]!;
  for (const s of all) {
    for (const c of copies(s)) {
      if (c.from) {
        const from = all.find((x) => x.name === c.from);
        assert.ok(from, `COPY --from=${c.from} names a stage`);
        for (const src of c.sources) {
          assert.ok(src.startsWith(`${from.workdir}/`), `${src} is under the ${c.from} stage's workdir`);
          // The build stage's output is what `npm run build` writes here.
          assert.ok(existsSync(join(ROOT, src.slice(from.workdir.length + 1))), `${src} exists after npm run build`);
        }
      } else {
        for (const src of c.sources) {
          assert.ok(existsSync(join(ROOT, src)), `${s.name}: COPY ${src} exists`);
          assert.ok(!ignored(src), `${s.name}: COPY ${src} is excluded by .dockerignore`);
        }
      }
    }
  }
  const runtimePaths = copies(runtime).flatMap((c) => c.sources.map((src) => (c.from ? src.slice(all.find((x) => x.name === c.from)!.workdir.length + 1) : src)));
  for (const f of pkg.files.filter((x) => x !== 'README.md')) {
    assert.ok(runtimePaths.some((p) => p === f || f.startsWith(`${p}/`)), `package.json files entry ${f} is in the image`);
  }
});

test('Dockerfile: ENTRYPOINT is the package bin, CMD runs the config file; the bundled config validates', () => {
  assert.deepEqual(json('ENTRYPOINT'), ['node', 'bin/churnflow.js']);
  assert.equal(pkg.bin['churnflow'], 'bin/churnflow.js');
  const cmd = json('CMD');
  assert.deepEqual(cmd, ['run', '--config', '/etc/churnflow/churnflow.yaml']);
  const runtime = stages().at(-1)!;
  const shipped = copies(runtime).find((c) => c.dest === cmd[2]);
  assert.ok(shipped, `${cmd[2]} is in the image`);
  const env = runtimeEnv(runtime);
  for (const k of Object.keys(env).filter((x) => x.startsWith('CHURNFLOW_'))) assert.ok(ENV_KEYS[k], `${k} is an environment variable the config reads`);
  const config = loadConfig({ file: shipped.sources[0]!, env });
  assert.equal(config.http.host, '0.0.0.0');
  assert.deepEqual(words(ofKind(runtime, 'EXPOSE')[0]!), [String(config.http.port)], 'EXPOSE = http.port');
});

test('runtime dependencies: every package the compiled engine imports is a production dependency', () => {
  const prod = new Set(Object.keys(pkg.dependencies));
  const missing = new Set<string>();
  const seen = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.js')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/(?:^|\n)\s*import\s[^'"]*['"]([^'"./][^'"]*)['"]|import\(\s*['"]([^'"./][^'"]*)['"]\s*\)/g)) {
          const spec = m[1] ?? m[2]!;
          if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) continue;
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          seen.add(name);
          if (!prod.has(name)) missing.add(`${name} (${p})`);
        }
      }
    }
  };
  walk(join(ROOT, 'dist', 'src'));
  walk(join(ROOT, 'dist', 'topologies'));
  for (const used of ['kafkajs', 'ioredis', 'onnxruntime-node', 'fastify']) assert.ok(seen.has(used), `the import scan finds ${used}`);
  assert.deepEqual([...missing], [], 'imported at runtime but not in dependencies (npm ci --omit=dev would miss them)');
});

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

test('the runtime stage, laid out from its COPY lines, starts with ENTRYPOINT + CMD, passes HEALTHCHECK and drains on SIGTERM', async () => {
  const all = stages();
  const runtime = all.at(-1)!;
  const root = mkdtempSync(join(tmpdir(), 'cf-image-'));
  const inImage = (p: string) => join(root, posix.resolve(runtime.workdir, p));
  try {
    for (const c of copies(runtime)) {
      // A package copied into node_modules (the patched kafkajs) is in the repository's, linked below.
      if (posix.normalize(c.dest).startsWith('node_modules/')) continue;
      const from = c.from ? all.find((x) => x.name === c.from)! : undefined;
      for (const src of c.sources) {
        const hostSrc = from ? join(ROOT, src.slice(from.workdir.length + 1)) : join(ROOT, src);
        const dest = c.dest.endsWith('/') ? join(inImage(c.dest), src.split('/').at(-1)!) : inImage(c.dest);
        mkdirSync(dirname(dest), { recursive: true });
        cpSync(hostSrc, dest, { recursive: true });
      }
    }
    // node_modules: the repository's (npm ci --omit=dev cannot run offline here; the test above
    // checks that the engine imports production dependencies only).
    symlinkSync(join(ROOT, 'node_modules'), inImage('node_modules'), 'dir');

    // CMD's config path inside the layout, with a config that needs no services.
    const cmd = json('CMD').map((a) => (isAbsolute(a) && a.startsWith('/etc/') ? join(root, a) : a));
    const configFile = cmd[cmd.indexOf('--config') + 1]!;
    const port = await freePort();
    writeFileSync(configFile, `source: { kind: simulator }\nstate: { kind: memory }\nsinks: { kind: file, dir: ${JSON.stringify(join(root, 'out'))} }\nlog: { level: warn }\n`);
    const env = { ...process.env, ...runtimeEnv(runtime), CHURNFLOW_HTTP_PORT: String(port) };
    const [node, ...entry] = json('ENTRYPOINT');
    assert.equal(node, 'node');
    const child = spawn(process.execPath, [...entry, ...cmd], { cwd: inImage('.'), env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    try {
      const health = (ofKind(runtime, 'HEALTHCHECK')[0]!.getArgumentsContent() ?? '').replace(/^[\s\S]*?\bCMD\s+/, '');
      let up = false;
      for (let i = 0; i < 300 && !up && child.exitCode === null; i++) {
        up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(up, `the engine answers (exit ${child.exitCode}; ${stderr.slice(-2000)})`);
      assert.equal(spawnSync('/bin/sh', ['-c', health], { env, cwd: inImage('.') }).status, 0, 'HEALTHCHECK passes');
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(ready.status, 200, 'ready');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, `exit code after SIGTERM (stderr: ${stderr.slice(-2000)})`);
    assert.notEqual(spawnSync('/bin/sh', ['-c', (ofKind(runtime, 'HEALTHCHECK')[0]!.getArgumentsContent() ?? '').replace(/^[\s\S]*?\bCMD\s+/, '')], { env }).status, 0, 'HEALTHCHECK fails once the engine is gone');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('.dockerignore keeps the host build and dependencies out of the context', () => {
  for (const p of ['node_modules', 'dist', '.git', '.services']) assert.ok(ignored(p), `${p} ignored`);
});
