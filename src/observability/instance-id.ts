// Which engine of a fleet this is: the `instance` label of its metrics and the `instance` field of
// its logs, so a dashboard can sum over instances and an operator can find the one that misbehaves.
import { hostname } from 'node:os';
import { INSTANCE_ID_PATTERN } from '../config/config-schema.js';

/**
 * `instance.id` when configured (validated by the schema), else HOSTNAME (Kubernetes sets it to the
 * pod's name, unique among replicas and stable for the pod's life), else `<hostname>-<pid>` (two
 * engines on one host differ). A HOSTNAME that is no valid label value is passed over, not trusted.
 */
export function resolveInstanceId(configured: string | undefined, env: NodeJS.ProcessEnv = process.env, host: () => string = hostname, pid: number = process.pid): string {
  if (configured !== undefined) return configured;
  const fromEnv = env['HOSTNAME'];
  if (fromEnv !== undefined && INSTANCE_ID_PATTERN.test(fromEnv)) return fromEnv;
  const h = host().replace(/[^A-Za-z0-9._:-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100);
  return `${h || 'churnflow'}-${pid}`;
}
