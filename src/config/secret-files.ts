// Secrets from files (Kubernetes Secret mounts, Docker secrets): `<name>File` next to a secret key
// names a file holding its value. The file is read once, at load, before validation, so a short or
// empty secret fails like an inline one; its value then lives only in the frozen config.
import { readFileSync } from 'node:fs';
import { ChurnflowError, errorMessage } from '../errors.js';

type Tree = Record<string, unknown>;

/** Every secret that may come from a file (`<path>File`). */
export const SECRET_FILE_KEYS: readonly string[] = Object.freeze(['kafka.sasl.password', 'state.redis.password', 'schemaRegistry.basicAuth.password', 'http.customerLookup.bearerToken']);

/** A copy of the tree with each `<name>File` replaced by `<name>` holding the file's content (one trailing newline dropped). */
export function resolveSecretFiles(tree: Tree, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): Tree {
  let out = tree;
  for (const key of SECRET_FILE_KEYS) {
    const parts = key.split('.');
    const name = parts.pop()!;
    const parent = parts.reduce<unknown>((node, k) => (node && typeof node === 'object' ? (node as Tree)[k] : undefined), out);
    if (!parent || typeof parent !== 'object' || Array.isArray(parent)) continue;
    const file = (parent as Tree)[`${name}File`];
    if (file === undefined) continue;
    const fileKey = `${key}File`;
    if (typeof file !== 'string' || file === '') throw new ChurnflowError('CF_CONFIG_INVALID', `${fileKey}: must be the path of a file holding the secret`, { details: { key: fileKey } });
    if ((parent as Tree)[name] !== undefined) throw new ChurnflowError('CF_CONFIG_INVALID', `${fileKey}: give ${key} or ${fileKey}, not both`, { details: { key: fileKey } });
    let value: string;
    try {
      value = read(file).replace(/\r?\n$/, '');
    } catch (err) {
      // The path is not secret; the error of a read never holds the content.
      throw new ChurnflowError('CF_CONFIG_INVALID', `${fileKey}: cannot read ${file} (${(err as { code?: string }).code ?? errorMessage(err)})`, { details: { key: fileKey } });
    }
    if (value === '') throw new ChurnflowError('CF_CONFIG_INVALID', `${fileKey}: ${file} is empty`, { details: { key: fileKey } });
    const { [`${name}File`]: _dropped, ...rest } = parent as Tree;
    out = withPath(out, parts, { ...rest, [name]: value });
  }
  return out;
}

function withPath(tree: Tree, path: readonly string[], value: Tree): Tree {
  if (path.length === 0) return value;
  const [head, ...tail] = path as [string, ...string[]];
  return { ...tree, [head]: withPath((tree[head] ?? {}) as Tree, tail, value) };
}
