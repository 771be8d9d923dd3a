import CircuitBreaker from 'opossum';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '@trellis/shared';
import { UPSTREAMS, type Upstream } from './upstreams.ts';

export interface BreakerSettings {
  errorPercent: number;
  volume: number;
  resetMs: number;
}

type Work = () => Promise<void>;

/**
 * One opossum breaker per upstream. A proxied call counts as failed when the upstream cannot be
 * reached, times out or answers 5xx; 4xx are the client's problem and count as successes. While a
 * breaker is open, calls are refused at once (503) instead of piling onto a sick service; after
 * `resetMs` one trial call decides whether it closes again.
 */
export class UpstreamBreakers {
  readonly retryAfterSeconds: number;
  private readonly breakers: Map<Upstream, CircuitBreaker<[Work], void>>;

  constructor(settings: BreakerSettings, logger: Logger, registry: Registry) {
    this.retryAfterSeconds = Math.max(1, Math.ceil(settings.resetMs / 1000));
    const open = new Gauge({
      name: 'gateway_breaker_open',
      help: '1 while the circuit breaker of an upstream is open',
      labelNames: ['upstream'] as const,
      registers: [registry],
    });
    this.breakers = new Map(
      UPSTREAMS.map((upstream) => {
        const breaker = new CircuitBreaker<[Work], void>((work) => work(), {
          name: upstream,
          timeout: false, // the proxy has its own timeout, reported as 504
          errorThresholdPercentage: settings.errorPercent,
          volumeThreshold: settings.volume,
          resetTimeout: settings.resetMs,
          rollingCountTimeout: 10_000,
        });
        open.set({ upstream }, 0);
        breaker.on('open', () => {
          open.set({ upstream }, 1);
          logger.warn({ upstream }, 'circuit breaker opened');
        });
        breaker.on('halfOpen', () => logger.info({ upstream }, 'circuit breaker half-open: trying one call'));
        breaker.on('close', () => {
          open.set({ upstream }, 0);
          logger.info({ upstream }, 'circuit breaker closed');
        });
        return [upstream, breaker];
      }),
    );
  }

  /** Runs `work` through the upstream's breaker; resolves false when the breaker refused it. */
  async run(upstream: Upstream, work: Work): Promise<boolean> {
    const breaker = this.breakers.get(upstream);
    if (!breaker) throw new Error(`no breaker for ${upstream}`);
    try {
      await breaker.fire(work);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'EOPENBREAKER') return false;
      return true; // the failure itself has been answered by the proxy's error handler
    }
  }

  shutdown(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }
}
