/**
 * A read remembered briefly per process: names and settings that change rarely cost no extra query per ticket under
 * load. A failed read is not remembered; a change is seen within `ttlMs`.
 */
export function readBriefly<V>(ttlMs: number, read: (key: string) => Promise<V>): (key: string) => Promise<V> {
  const known = new Map<string, { at: number; value: Promise<V> }>();
  return (key) => {
    const hit = known.get(key);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const value = read(key);
    known.set(key, { at: Date.now(), value });
    value.catch(() => known.delete(key));
    // Bounded: old entries go once the map is large (a busy process sees many agents and channels).
    if (known.size > 10_000) for (const [k, v] of known) if (Date.now() - v.at >= ttlMs) known.delete(k);
    return value;
  };
}
