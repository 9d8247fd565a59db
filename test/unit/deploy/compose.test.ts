// deploy/compose/compose.yaml, offline (no container engine on the development machine): every file
// it mounts exists, every service it names exists, and the pieces agree — the engine's config
// (loaded by loadConfig) points at the Kafka, registry and Redis services on the ports they listen
// on, Prometheus scrapes the engine's http.port and loads alerts.yml, Grafana loads the dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/load-config.js';

const DIR = 'deploy/compose';

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, unknown>;
  stop_grace_period?: string;
}
const compose = parse(readFileSync(join(DIR, 'compose.yaml'), 'utf8')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;

/** Bind mounts of a service: host path (resolved against the compose file's folder) → container path. */
function binds(name: string): { host: string; target: string }[] {
  return (services[name]?.volumes ?? [])
    .map((v) => v.split(':'))
    .filter(([src]) => src!.startsWith('.') || src!.startsWith('/'))
    .map(([src, target]) => ({ host: resolve(DIR, src!), target: target! }));
}
/** The host file mounted at (or above) a container path. */
function mounted(name: string, containerPath: string): string {
  for (const b of binds(name)) {
    if (b.target === containerPath) return b.host;
    if (containerPath.startsWith(`${b.target}/`)) return join(b.host, containerPath.slice(b.target.length + 1));
  }
  assert.fail(`${name}: nothing mounted at ${containerPath}`);
}
const containerPorts = (name: string) => (services[name]?.ports ?? []).map((p) => Number(p.split(':').at(-1)));

function engineConfig() {
  const cmd = services['churnflow']!.command!;
  return loadConfig({ file: mounted('churnflow', cmd[cmd.indexOf('--config') + 1]!), env: {} });
}

test('compose: the whole stack, pinned images, every mounted file and named volume exists', () => {
  assert.deepEqual(Object.keys(services).sort(), ['churnflow', 'grafana', 'kafka', 'prometheus', 'redis', 'registry']);
  for (const [name, s] of Object.entries(services)) {
    assert.match(String(s.image), /^[\w./-]+:[\w.-]+$/, `${name}: image with a tag`);
    assert.doesNotMatch(String(s.image), /:latest$/, `${name}: pinned image`);
    for (const b of binds(name)) assert.ok(existsSync(b.host), `${name}: mounted ${b.host} exists`);
    for (const v of (s.volumes ?? []).map((x) => x.split(':')[0]!).filter((x) => !x.startsWith('.') && !x.startsWith('/'))) {
      assert.ok(compose.volumes && v in compose.volumes, `${name}: named volume ${v} is declared`);
    }
    const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
    for (const d of deps) assert.ok(services[d], `${name} depends on ${d}, a service`);
  }
  assert.match(String(services['kafka']!.image), /^apache\/kafka:/);
  assert.match(String(services['registry']!.image), /^apicurio\/apicurio-registry:/);
});

test('compose: Kafka runs in KRaft mode (broker and controller, no ZooKeeper)', () => {
  const env = services['kafka']!.environment!;
  assert.deepEqual(String(env['KAFKA_PROCESS_ROLES']).split(',').sort(), ['broker', 'controller']);
  assert.ok(!Object.keys(env).some((k) => k.includes('ZOOKEEPER')));
  const [id, hostPort] = String(env['KAFKA_CONTROLLER_QUORUM_VOTERS']).split('@');
  assert.equal(id, String(env['KAFKA_NODE_ID']));
  const [host, port] = hostPort!.split(':');
  assert.equal(host, 'kafka');
  const listeners = String(env['KAFKA_LISTENERS']).split(',');
  assert.ok(listeners.includes(`CONTROLLER://:${port}`), 'the quorum voter is the controller listener');
});

test('compose: the engine image is built from the Dockerfile and its config reaches the services', () => {
  const s = services['churnflow']!;
  const context = resolve(DIR, s.build!.context);
  assert.ok(existsSync(join(context, s.build!.dockerfile ?? 'Dockerfile')), 'build context holds the Dockerfile');
  assert.ok(existsSync(join(context, 'package.json')), 'build context is the repository root');
  const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  assert.equal(s.image, `churnflow:${version}`);
  const dockerCmd = readFileSync(join(context, 'Dockerfile'), 'utf8').match(/^CMD (.*)$/m)![1]!;
  assert.deepEqual(s.command, JSON.parse(dockerCmd), 'same command as the image');

  const config = engineConfig();
  const kafkaEnv = services['kafka']!.environment!;
  const advertised = String(kafkaEnv['KAFKA_ADVERTISED_LISTENERS']).split(',').map((l) => l.replace(/^\w+:\/\//, ''));
  for (const b of config.kafka.brokers) assert.ok(advertised.includes(b), `broker ${b} is an advertised listener (${advertised.join(', ')})`);
  const registry = new URL(config.schemaRegistry.url);
  assert.equal(registry.hostname, 'registry');
  assert.ok(containerPorts('registry').includes(Number(registry.port)), `registry port ${registry.port}`);
  assert.equal(registry.pathname, '/apis/ccompat/v7', 'the Confluent-compatible API of Apicurio');
  const redis = new URL(config.state.redis.url);
  assert.equal(config.state.kind, 'redis');
  assert.equal(redis.hostname, 'redis');
  assert.ok(containerPorts('redis').includes(Number(redis.port)));
  assert.equal(config.http.host, '0.0.0.0');
  assert.ok(containerPorts('churnflow').includes(config.http.port));
  // The same grace as the Kubernetes Deployment (the drain reasoning of docs/deployment.md).
  const k8s = readFileSync('deploy/k8s/base/deployment.yaml', 'utf8').match(/terminationGracePeriodSeconds: (\d+)/)![1];
  assert.equal(s.stop_grace_period, `${k8s}s`);
});

test('compose: Prometheus scrapes the engine and loads alerts.yml; Grafana gets the data source and the dashboard', () => {
  const config = engineConfig();
  const promFile = mounted('prometheus', '/etc/prometheus/prometheus.yml');
  const prom = parse(readFileSync(promFile, 'utf8')) as { rule_files: string[]; scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[] };
  for (const r of prom.rule_files) {
    const host = mounted('prometheus', posix.join('/etc/prometheus', r));
    assert.equal(host, resolve('deploy/prometheus/alerts.yml'), `rule file ${r} is the project's alerts.yml`);
  }
  const job = prom.scrape_configs.find((j) => j.job_name === 'churnflow');
  assert.ok(job, 'job churnflow (the alerts match on it)');
  assert.equal(job.metrics_path, '/metrics');
  assert.deepEqual(job.static_configs.flatMap((c) => c.targets), [`churnflow:${config.http.port}`]);
  // The rest of the scrape config is the standalone deploy/prometheus/prometheus.yml's.
  const standalone = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as typeof prom & { global: unknown };
  assert.deepEqual((parse(readFileSync(promFile, 'utf8')) as { global: unknown }).global, standalone.global);

  const ds = parse(readFileSync(mounted('grafana', '/etc/grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as { datasources: { type: string; url: string }[] };
  const url = new URL(ds.datasources.find((d) => d.type === 'prometheus')!.url);
  assert.equal(url.hostname, 'prometheus');
  assert.ok(containerPorts('prometheus').includes(Number(url.port)));
  const providers = parse(readFileSync(mounted('grafana', '/etc/grafana/provisioning/dashboards/churnflow.yaml'), 'utf8')) as { providers: { options: { path: string } }[] };
  const dashboardDir = providers.providers[0]!.options.path;
  const dashboard = binds('grafana').find((b) => dirname(b.target) === dashboardDir);
  assert.ok(dashboard, `a dashboard is mounted in ${dashboardDir}`);
  assert.equal(dashboard.host, resolve('deploy/grafana/churnflow-dashboard.json'));
  assert.equal((JSON.parse(readFileSync(dashboard.host, 'utf8')) as { uid: string }).uid, 'churnflow-overview');
});
