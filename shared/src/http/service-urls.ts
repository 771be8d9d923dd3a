/** An answer that says "not this replica, now" rather than anything about the request. */
const UNAVAILABLE = new Set([502, 503, 504]);

/**
 * A `fetch` of paths on another service that has several base URLs (its replicas, in the local
 * stack; one URL behind a Kubernetes Service). Calls start at a rotating position, so the replicas
 * share the load, and a replica that cannot be reached, or answers 502/503/504 (a draining one
 * answers 503), passes the call on to the next; the last one's answer or error is the caller's.
 */
export function serviceFetch(
  urls: readonly string[],
): (path: string, init?: RequestInit) => Promise<Response> {
  const bases = urls.map((url) => url.replace(/\/+$/, ''));
  if (bases.length === 0) throw new Error('serviceFetch: no URL');
  let cursor = 0;
  return async (path, init) => {
    const start = cursor;
    cursor = (cursor + 1) % bases.length;
    for (let i = 0; ; i += 1) {
      const base = bases[(start + i) % bases.length] as string;
      const last = i === bases.length - 1;
      try {
        const response = await fetch(`${base}${path}`, init);
        if (last || !UNAVAILABLE.has(response.status)) return response;
        await response.body?.cancel();
      } catch (err) {
        // A timeout of the caller's own signal ends the call; a refused connection tries the next.
        if (last || init?.signal?.aborted) throw err;
      }
    }
  };
}
