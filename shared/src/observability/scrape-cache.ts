/**
 * A value read from a store or a broker when Prometheus scrapes, reused for `ttlMs` so frequent
 * scrapes (several Prometheus servers, a dashboard refresh) cost one read. A read that fails or takes
 * longer than `timeoutMs` gives `undefined` (the metric is left out of that scrape; the scrape itself
 * never fails), and while one read is still running no second one starts: a hung broker cannot
 * gather reads that pile up behind it.
 */
export function scrapeCache<T>(
  read: () => Promise<T>,
  options: { ttlMs: number; timeoutMs: number },
): () => Promise<T | undefined> {
  let last: { at: number; value: T | undefined } | undefined;
  let running: Promise<T> | undefined;
  return async () => {
    if (last && Date.now() - last.at < options.ttlMs) return last.value;
    running ??= read().finally(() => {
      running = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, options.timeoutMs, undefined);
    });
    try {
      const value = await Promise.race([running, timeout]);
      last = { at: Date.now(), value };
      return value;
    } catch {
      last = { at: Date.now(), value: undefined };
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };
}
