// JSON with object keys sorted at every level: two decoded records (Avro record instances or plain
// objects) serialize alike exactly when their contents are equal.
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/** The top-level fields whose canonical forms differ, as `field: a → b` (values cut to 120 characters). */
export function fieldDiffs(a: Record<string, unknown>, b: Record<string, unknown>, skip: readonly string[] = []): string[] {
  const cut = (s: string | undefined) => (s === undefined ? 'absent' : s.length > 120 ? `${s.slice(0, 117)}...` : s);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !skip.includes(k)).sort();
  return keys.flatMap((k) => {
    const x = a[k] === undefined ? undefined : canonicalJson(a[k]);
    const y = b[k] === undefined ? undefined : canonicalJson(b[k]);
    return x === y ? [] : [`${k}: ${cut(x)} → ${cut(y)}`];
  });
}
