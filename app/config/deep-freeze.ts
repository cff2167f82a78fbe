/** Freezes objects, arrays and their contents (Maps are typed read-only instead), as loaded configs are. */
export function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    if (v instanceof Map) {
      for (const x of v.values()) deepFreeze(x);
    } else for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
