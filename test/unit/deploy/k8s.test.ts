// deploy/k8s, offline: every object of the base and both production overlays (rendered by
// ./kustomize-render.ts) validates against its Kubernetes / KEDA / Prometheus Operator schema
// (kubernetes-models), and the objects agree with each other and with the engine: labels and
// selectors, port names, probe paths the engine's HTTP server answers, the ConfigMap's config
// (loaded by loadConfig), Secret keys, the grace period against the drain, autoscaling against the
// partition count and the exported lag metric, and the PrometheusRule against alerts.yml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ScaledObject, type IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication, type ITriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { PrometheusRule, type IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor, type IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../src/config/load-config.js';
import type { ChurnflowConfig } from '../../../src/config/config-schema.js';
import { createEngineMetrics } from '../../../src/observability/metrics.js';
import { startHttpServer } from '../../../src/observability/http-server.js';
import { kustomizeBuild, type K8sObject } from './kustomize-render.js';

const BUILDS = ['deploy/k8s/base', 'deploy/k8s/overlays/production', 'deploy/k8s/overlays/production-hpa'] as const;

/** Schema validation by apiVersion and kind; an object of a kind not listed fails the test. */
const MODELS: Record<string, (o: K8sObject) => { validate(): void }> = {
  'apps/v1/Deployment': (o) => new Deployment(o as unknown as IDeployment),
  'v1/Service': (o) => new Service(o as unknown as IService),
  'v1/ConfigMap': (o) => new ConfigMap(o as unknown as IConfigMap),
  'v1/Secret': (o) => new Secret(o as unknown as ISecret),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as unknown as IPodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': (o) => new HorizontalPodAutoscaler(o as unknown as IHorizontalPodAutoscaler),
  'keda.sh/v1alpha1/ScaledObject': (o) => new ScaledObject(o as unknown as IScaledObject),
  'keda.sh/v1alpha1/TriggerAuthentication': (o) => new TriggerAuthentication(o as unknown as ITriggerAuthentication),
  'monitoring.coreos.com/v1/ServiceMonitor': (o) => new ServiceMonitor(o as unknown as IServiceMonitor),
  'monitoring.coreos.com/v1/PrometheusRule': (o) => new PrometheusRule(o as unknown as IPrometheusRule),
};

function only<T>(objects: K8sObject[], kind: string): T {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}, found ${found.length}`);
  return found[0] as unknown as T;
}
const maybe = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.keys(selector ?? {}).length > 0 && Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

/** Where the Deployment mounts the Secret churnflow-secrets; the config's *File keys point inside it. */
const SECRET_MOUNT = '/var/run/secrets/churnflow';
/** The base's placeholder Secret: the keys a real one must have. */
const secretKeys = () => only<ISecret>(rendered.get('deploy/k8s/base')!, 'Secret').stringData ?? {};

/**
 * The engine config in the rendered ConfigMap, validated by the engine's own loader (no environment).
 * Secret files are read from the placeholder Secret, as the mount would give them: a path outside
 * the mount or a key the Secret lacks fails here.
 */
function engineConfig(objects: K8sObject[], env: NodeJS.ProcessEnv = {}): Readonly<ChurnflowConfig> {
  const cm = only<IConfigMap>(objects, 'ConfigMap');
  const text = cm.data?.['churnflow.yaml'];
  assert.ok(text, 'ConfigMap has churnflow.yaml');
  const dir = mkdtempSync(join(tmpdir(), 'cf-k8s-'));
  const readSecretFile = (path: string): string => {
    assert.ok(path.startsWith(`${SECRET_MOUNT}/`), `secret file ${path} is under the Secret mount ${SECRET_MOUNT}`);
    const value = secretKeys()[path.slice(SECRET_MOUNT.length + 1)];
    assert.ok(value !== undefined, `secret file ${path} is a key of base/secret.yaml`);
    return value;
  };
  try {
    writeFileSync(join(dir, 'churnflow.yaml'), text);
    return loadConfig({ file: join(dir, 'churnflow.yaml'), env, readSecretFile });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function engineContainer(objects: K8sObject[]) {
  const d = only<IDeployment>(objects, 'Deployment');
  const c = d.spec?.template.spec?.containers.find((x) => x.name === 'churnflow');
  assert.ok(c, 'the Deployment has a container named churnflow');
  return { d, c, pod: d.spec!.template.spec! };
}

const rendered = new Map(BUILDS.map((b) => [b, kustomizeBuild(b)]));

for (const [build, objects] of rendered) {
  test(`${build}: every object validates against its schema`, () => {
    assert.ok(objects.length >= 6, `rendered ${objects.length} objects`);
    for (const o of objects) {
      const model = MODELS[`${o.apiVersion}/${o.kind}`];
      assert.ok(model, `no schema for ${o.apiVersion} ${o.kind} (${o.metadata.name})`);
      assert.doesNotThrow(() => model(o).validate(), `${o.kind}/${o.metadata.name}`);
    }
    const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.equal(new Set(ids).size, ids.length, `duplicate objects: ${ids.join(', ')}`);
  });

  test(`${build}: selectors, labels and port names agree`, () => {
    const { d, c } = engineContainer(objects);
    const podLabels = d.spec!.template.metadata?.labels;
    assert.ok(matches(d.spec!.selector.matchLabels, podLabels), 'Deployment selector selects its pods');
    const svc = only<IService>(objects, 'Service');
    assert.ok(matches(svc.spec?.selector, podLabels), 'Service selects the pods');
    const pdb = only<IPodDisruptionBudget>(objects, 'PodDisruptionBudget');
    assert.ok(matches(pdb.spec?.selector?.matchLabels, podLabels), 'PDB selects the pods');
    const sm = only<IServiceMonitor>(objects, 'ServiceMonitor');
    assert.ok(matches(sm.spec.selector.matchLabels, svc.metadata?.labels), 'ServiceMonitor selects the Service');
    const svcPortNames = (svc.spec?.ports ?? []).map((p) => p.name);
    for (const e of sm.spec.endpoints ?? []) assert.ok(svcPortNames.includes(e.port), `ServiceMonitor port ${e.port} is one of ${svcPortNames.join(', ')}`);
    const containerPorts = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
    for (const p of svc.spec?.ports ?? []) assert.ok(containerPorts.has(String(p.targetPort)), `Service targetPort ${p.targetPort} names a container port`);
    // The config the pod mounts: its http.port is the container port, and it listens beyond loopback.
    const config = engineConfig(objects);
    assert.equal(containerPorts.get('http'), config.http.port, 'container port http = config http.port');
    assert.equal(config.http.enabled, true);
    assert.equal(config.http.host, '0.0.0.0', 'http.host must accept probes and scrapes from outside the pod');
  });

  test(`${build}: probes name paths the engine's HTTP server answers`, async () => {
    const { c } = engineContainer(objects);
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(c.startupProbe?.httpGet?.path, '/healthz');
    const portNames = (c.ports ?? []).map((p) => p.name);
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.ok(portNames.includes(String(probe?.httpGet?.port)), `probe port ${probe?.httpGet?.port}`);
    const scrapePaths = (only<IServiceMonitor>(objects, 'ServiceMonitor').spec.endpoints ?? []).map((e) => e.path ?? '/metrics');

    let lifecycle = { state: 'RUNNING', ready: true };
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, registry: new Registry(), lifecycle: () => lifecycle });
    try {
      for (const path of [c.livenessProbe!.httpGet!.path!, c.readinessProbe!.httpGet!.path!, ...scrapePaths]) {
        const res = await fetch(server.url + path);
        assert.equal(res.status, 200, `GET ${path} on a running engine`);
      }
      // Draining: readiness drops (no new traffic), liveness holds (no restart mid-drain).
      lifecycle = { state: 'DRAINING', ready: false };
      assert.equal((await fetch(server.url + c.readinessProbe!.httpGet!.path!)).status, 503);
      assert.equal((await fetch(server.url + c.livenessProbe!.httpGet!.path!)).status, 200);
    } finally {
      await server.close();
    }
  });

  test(`${build}: the config is mounted where the container reads it, secrets come from the Secret`, () => {
    const { c, pod } = engineContainer(objects);
    const args = c.args ?? [];
    assert.equal(args[0], 'run');
    const configPath = args[args.indexOf('--config') + 1];
    const mount = (c.volumeMounts ?? []).find((m) => configPath?.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `a volume is mounted above ${configPath}`);
    const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
    const cm = only<IConfigMap>(objects, 'ConfigMap');
    assert.equal(volume?.configMap?.name, cm.metadata?.name, 'the mount is the ConfigMap');
    assert.ok(cm.data?.[configPath!.slice(mount.mountPath.length + 1)], 'the ConfigMap has the file the args name');

    const secret = only<ISecret>(rendered.get('deploy/k8s/base')!, 'Secret');
    const keys = new Set(Object.keys(secret.stringData ?? {}));
    const refs = [
      ...(c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])),
      ...maybe(objects, 'TriggerAuthentication').flatMap((t) => (t as unknown as ITriggerAuthentication).spec.secretTargetRef ?? []),
    ];
    for (const r of refs) {
      assert.equal(r.name, secret.metadata?.name);
      assert.ok(keys.has(r.key), `Secret key ${r.key} is documented in base/secret.yaml`);
    }
    // No secret as an environment variable: the Secret is a read-only volume at SECRET_MOUNT.
    assert.deepEqual((c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef), []);
    const secretMount = (c.volumeMounts ?? []).find((m) => m.mountPath === SECRET_MOUNT);
    assert.ok(secretMount?.readOnly, `the Secret is mounted read-only at ${SECRET_MOUNT}`);
    assert.equal((pod.volumes ?? []).find((v) => v.name === secretMount.name)?.secret?.secretName, secret.metadata?.name);
    // Every *File key of the config names a key of the Secret (engineConfig reads them from it), and
    // the secrets the engine needs come from files: the Redis password and the lookup token.
    const config = engineConfig(objects);
    assert.equal(config.state.redis.password, secret.stringData!['redis-password']);
    assert.equal(config.http.customerLookup.bearerToken, secret.stringData!['http-bearer-token']);
    const tlsFiles = [config.kafka.ssl, config.state.redis.tls, config.schemaRegistry.tls].flatMap((t) => [t.caFile, t.certFile, t.keyFile]).filter((f): f is string => f !== undefined);
    for (const f of tlsFiles) {
      assert.ok(f.startsWith(`${SECRET_MOUNT}/`) && keys.has(f.slice(SECRET_MOUNT.length + 1)), `TLS file ${f} is a key of the mounted Secret`);
    }
    if (config.kafka.sasl) assert.equal(config.kafka.sasl.password, secret.stringData!['sasl-password'], 'the engine and KEDA read one SASL password');
  });

  test(`${build}: the grace period outlasts the drain`, () => {
    const { pod } = engineContainer(objects);
    const config = engineConfig(objects);
    // SIGTERM: fetching stops (an idle fetch returns within fetchMaxWaitMs), the last batch closes
    // (batch.maxWaitMs), in-flight batches finish and commit; a commit racing a rebalance waits for
    // the group at most a session timeout. Kubernetes kills the pod after the grace period.
    const drainBoundMs = config.kafka.fetchMaxWaitMs + config.engine.batch.maxWaitMs + config.kafka.sessionTimeoutMs;
    assert.ok((pod.terminationGracePeriodSeconds ?? 30) * 1000 > 2 * drainBoundMs, `grace ${pod.terminationGracePeriodSeconds}s vs drain bound ${drainBoundMs} ms`);
  });

  test(`${build}: resources are requested and bounded`, () => {
    const { c } = engineContainer(objects);
    const bytes = (q: string) => Number(q.replace(/Mi$/, '')) * 2 ** 20 || Number(q.replace(/Gi$/, '')) * 2 ** 30;
    const cpu = (q: string) => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));
    const { requests, limits } = c.resources ?? {};
    assert.ok(requests?.memory && limits?.memory && requests.cpu && limits.cpu, 'requests and limits for cpu and memory');
    assert.ok(bytes(String(requests.memory)) <= bytes(String(limits.memory)));
    assert.ok(cpu(String(requests.cpu)) <= cpu(String(limits.cpu)));
  });
}

test('production overlays: autoscaling follows the consumer lag, capped at the partition count', async () => {
  const { registry } = createEngineMetrics({ defaultMetrics: false });
  for (const build of ['deploy/k8s/overlays/production', 'deploy/k8s/overlays/production-hpa'] as const) {
    const objects = rendered.get(build)!;
    const config = engineConfig(objects);
    const partitions = config.kafka.createTopics.partitions;
    const deployment = only<IDeployment>(objects, 'Deployment');
    assert.equal(maybe(objects, 'Secret').length, 0, `${build}: no placeholder Secret in production`);
    const scaled = maybe(objects, 'ScaledObject') as unknown as IScaledObject[];
    const hpas = maybe(objects, 'HorizontalPodAutoscaler') as unknown as IHorizontalPodAutoscaler[];
    assert.equal(scaled.length + hpas.length, 1, `${build}: exactly one autoscaler`);
    for (const so of scaled) {
      assert.equal(so.spec.scaleTargetRef.name, deployment.metadata?.name);
      assert.equal(so.spec.maxReplicaCount, partitions, 'maxReplicaCount = kafka.createTopics.partitions');
      assert.ok((so.spec.minReplicaCount ?? 0) >= 2 && so.spec.minReplicaCount! <= partitions);
      const t = so.spec.triggers.find((x) => x.type === 'kafka');
      assert.ok(t, 'a kafka trigger');
      assert.equal(t.metadata?.consumerGroup, config.kafka.groupId);
      assert.ok(config.kafka.topics.activity.includes(String(t.metadata?.topic)), `trigger topic ${t.metadata?.topic}`);
      assert.deepEqual(String(t.metadata?.bootstrapServers).split(','), config.kafka.brokers);
      assert.notEqual(t.metadata?.allowIdleConsumers, 'true', 'replicas beyond the partitions would idle');
      const auth = maybe(objects, 'TriggerAuthentication').map((o) => o.metadata.name);
      assert.ok(auth.includes(String(t.authenticationRef?.name)), 'the trigger authentication exists');
    }
    for (const hpa of hpas) {
      assert.equal(hpa.spec?.scaleTargetRef.name, deployment.metadata?.name);
      assert.equal(hpa.spec?.maxReplicas, partitions, 'maxReplicas = kafka.createTopics.partitions');
      const ext = hpa.spec?.metrics?.find((m) => m.type === 'External')?.external;
      assert.ok(ext, 'an External metric');
      const metric = registry.getSingleMetric(ext.metric.name) as unknown as { labelNames: string[]; get(): Promise<{ type: unknown }> } | undefined;
      assert.ok(metric, `${ext.metric.name} is a metric the engine exports`);
      assert.equal(String((await metric.get()).type), 'gauge');
      for (const l of Object.keys(ext.metric.selector?.matchLabels ?? {})) assert.ok(metric.labelNames.includes(l), `${ext.metric.name} has the label ${l}`);
      assert.ok(config.kafka.topics.activity.includes(String(ext.metric.selector?.matchLabels?.topic)));
      // The adapter rule that serves it under that name.
      const adapter = parse(readFileSync('deploy/k8s/overlays/production-hpa/prometheus-adapter-rules.yaml', 'utf8')) as { rules: { external: { name: { as: string }; seriesQuery: string }[] } };
      assert.ok(adapter.rules.external.some((r) => r.name.as === ext.metric.name && r.seriesQuery.startsWith(ext.metric.name)));
    }
  }
});

test('production overlays: image pinned to the package version, engine labels kept', () => {
  const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  for (const build of ['deploy/k8s/overlays/production', 'deploy/k8s/overlays/production-hpa'] as const) {
    const { c } = engineContainer(rendered.get(build)!);
    assert.match(String(c.image), new RegExp(`:${version.replace(/\./g, '\\.')}$`));
    for (const o of rendered.get(build)!) assert.equal(o.metadata.namespace, 'churnflow', `${o.kind}/${o.metadata.name} namespace`);
  }
});

test('PrometheusRule carries exactly the rules of deploy/prometheus/alerts.yml', () => {
  const alerts = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as { groups: unknown[] };
  const rule = only<IPrometheusRule>(rendered.get('deploy/k8s/base')!, 'PrometheusRule');
  assert.deepEqual(rule.spec.groups, alerts.groups, 'run node scripts/deploy/sync-prometheus-rule.mjs');
  // ChurnflowDown matches on job: the Prometheus Operator names the job after the Service.
  const svc = only<IService>(rendered.get('deploy/k8s/base')!, 'Service');
  assert.match(readFileSync('deploy/prometheus/alerts.yml', 'utf8'), new RegExp(`up\\{job="${svc.metadata?.name}"\\}`));
});

test('the schemas refuse a bad manifest (validation is not a no-op)', () => {
  const { d } = engineContainer(rendered.get('deploy/k8s/base')!);
  const broken = structuredClone(d) as unknown as K8sObject & IDeployment;
  (broken.spec!.template.spec!.containers[0]!.ports![0] as unknown as { containerPort: string }).containerPort = '9464';
  assert.throws(() => MODELS['apps/v1/Deployment']!(broken).validate(), /containerPort must be integer/);
  const so = structuredClone(only<IScaledObject>(rendered.get('deploy/k8s/overlays/production')!, 'ScaledObject'));
  delete (so.spec as Partial<IScaledObject['spec']>).scaleTargetRef;
  assert.throws(() => MODELS['keda.sh/v1alpha1/ScaledObject']!(so as unknown as K8sObject).validate(), /scaleTargetRef/);
});
