import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import { serviceFetch } from '../http/service-urls.ts';

type Get = (path: string, authorization: string) => Promise<unknown>;

/**
 * A read of another service's cluster-only `/internal/...` endpoint, the fallback of
 * architecture.md §2 for a projection that has not yet seen something. The caller's bearer token
 * is forwarded (no service trusts the network). An opossum breaker bounds each call and stops
 * calling a sick service for a while; any failure reads as "unknown" (null), so the caller answers
 * what its projection alone would.
 */
export class InternalClient {
  private readonly breaker: CircuitBreaker<Parameters<Get>, unknown>;
  private readonly logger: Logger;

  /** `baseUrl`: the service's, or those of its replicas (tried in turn: see `serviceFetch`). */
  constructor(options: {
    name: string;
    baseUrl: string | readonly string[];
    timeoutMs?: number;
    logger: Logger;
  }) {
    const fetchFrom = serviceFetch(typeof options.baseUrl === 'string' ? [options.baseUrl] : options.baseUrl);
    const timeoutMs = options.timeoutMs ?? 1000;
    this.logger = options.logger.child({ component: `${options.name}-client` });
    const get: Get = async (path, authorization) => {
      const res = await fetchFrom(path, {
        headers: { authorization, accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      // A definite "no such thing" is an answer, not a failure of the other service.
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`${options.name} answered ${res.status}`);
      return res.json();
    };
    this.breaker = new CircuitBreaker(get, {
      name: options.name,
      timeout: timeoutMs,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      resetTimeout: 10_000,
    });
    this.breaker.on('open', () => this.logger.warn('breaker opened'));
    this.breaker.on('close', () => this.logger.info('breaker closed'));
  }

  /** The answer, or null when there is none or the service cannot be asked right now. */
  async get<T>(path: string, authorization: string | undefined): Promise<T | null> {
    if (!authorization) return null;
    try {
      return (await this.breaker.fire(path, authorization)) as T | null;
    } catch (err) {
      this.logger.warn({ err, path }, 'internal lookup failed');
      return null;
    }
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}
