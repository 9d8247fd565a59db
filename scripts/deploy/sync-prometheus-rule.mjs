#!/usr/bin/env node
// Writes deploy/k8s/base/prometheusrule.yaml from deploy/prometheus/alerts.yml, the one source of the
// alerting rules: the Prometheus Operator's PrometheusRule carries the same groups under spec.
// Run after editing alerts.yml; test/unit/deploy/k8s.test.ts fails while the two differ.
//   node scripts/deploy/sync-prometheus-rule.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const alerts = parse(readFileSync(`${root}deploy/prometheus/alerts.yml`, 'utf8'));
const rule = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'churnflow',
    labels: { 'app.kubernetes.io/name': 'churnflow', 'app.kubernetes.io/component': 'engine' },
  },
  spec: { groups: alerts.groups },
};
const header = '# GENERATED from deploy/prometheus/alerts.yml by scripts/deploy/sync-prometheus-rule.mjs: edit alerts.yml, then run it.\n';
writeFileSync(`${root}deploy/k8s/base/prometheusrule.yaml`, header + stringify(rule, { lineWidth: 0 }));
