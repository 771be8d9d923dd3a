import CircuitBreaker from 'opossum';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '@trellis/shared';
import { UPSTREAMS, type Upstream } from './upstreams.ts';

export interface BreakerSettings {
  errorPercent: number;
  volume: number;
  resetMs: number;
  /** Failures one caller may add to a breaker per minute. */
  failuresPerCaller: number;
}

/** What became of a proxied call. */
export type CallOutcome =
  | { kind: 'answered'; status: number }
  | { kind: 'timedOut' }
  /** No answer: the connection failed (`code` is the system error's, e.g. ECONNREFUSED). */
  | { kind: 'failed'; code: string | undefined }
  /** The client went away before the upstream answered. */
  | { kind: 'abandoned' };

/** Connection errors that say the upstream, or the way to it, is unwell. */
const CONNECTION_FAILURES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
]);

/** Answers in which the upstream itself says it cannot serve (its own, or a proxy's in front of it). */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/**
 * Whether an outcome tells of the upstream's health: it could not be reached (refused, reset,
 * unreachable), did not answer in time, or answered 502/503/504. Any other answer, a 500 included,
 * is about the request that caused it, and a caller can send such requests at will.
 */
export function isUpstreamFailure(outcome: CallOutcome): boolean {
  switch (outcome.kind) {
    case 'answered':
      return UNAVAILABLE_STATUSES.has(outcome.status);
    case 'timedOut':
      return true;
    case 'failed':
      return CONNECTION_FAILURES.has(outcome.code ?? '');
    case 'abandoned':
      return false;
  }
}

/**
 * How many failures each caller may still add to one breaker, in fixed one-minute windows. A call
 * is seen by the breaker only if its caller has budget left when it starts, counting that caller's
 * calls still in flight, so a burst of concurrent calls cannot overdraw it.
 */
export class CallerBudget {
  private readonly perMinute: number;
  private readonly now: () => number;
  private window = 0;
  private readonly failures = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();

  constructor(perMinute: number, now: () => number = Date.now) {
    this.perMinute = perMinute;
    this.now = now;
  }

  /** Takes one seen call for `caller`; false when their failures and calls in flight use up the budget. */
  reserve(caller: string): boolean {
    this.roll();
    const used = (this.failures.get(caller) ?? 0) + (this.inFlight.get(caller) ?? 0);
    if (used >= this.perMinute) return false;
    this.inFlight.set(caller, (this.inFlight.get(caller) ?? 0) + 1);
    return true;
  }

  /** Ends a reserved call; a failure stays charged to the caller until the window ends. */
  settle(caller: string, failed: boolean): void {
    this.roll();
    const left = (this.inFlight.get(caller) ?? 1) - 1;
    if (left > 0) this.inFlight.set(caller, left);
    else this.inFlight.delete(caller);
    if (failed) this.failures.set(caller, (this.failures.get(caller) ?? 0) + 1);
  }

  private roll(): void {
    const window = Math.floor(this.now() / 60_000);
    if (window === this.window) return;
    this.window = window;
    this.failures.clear();
  }
}

const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
type BreakerState = (typeof BREAKER_STATES)[number];

/** Runs one proxied call and reports what became of it; never rejects. */
type Work = () => Promise<CallOutcome>;

class UpstreamFailure extends Error {}

interface Guard {
  breaker: CircuitBreaker<[Work], void>;
  budget: CallerBudget;
}

/**
 * One opossum breaker per target of each upstream (each replica, when the gateway is given several).
 * A proxied call counts as failed only when `isUpstreamFailure` says so; every other answer counts as
 * a success. While a breaker is open, its target takes no calls: the proxy sends them to another
 * target, or answers 503 at once when none is left, instead of piling onto a sick service; after
 * `resetMs` one trial call decides whether it closes again.
 *
 * No single caller can open a breaker for everyone: each may add at most `failuresPerCaller`
 * failures per minute (`CallerBudget`). A caller past their budget is still served while the
 * breaker is closed, but their calls are not fired through it, so they count neither as failures
 * nor as successes (successes would dilute the error rate of a real outage); while the breaker is
 * open or half-open they are refused like anyone else's (the trial call is a counted one).
 */
export class UpstreamBreakers {
  readonly retryAfterSeconds: number;
  private readonly guards = new Map<string, Guard>();
  private readonly defaults = new Map<Upstream, string>();
  private readonly unseen: Counter<'upstream'>;
  private readonly create: (upstream: Upstream, target: string) => Guard;

  /** `targets`: the target names (`host:port`) of each upstream; one named `default` when absent. */
  constructor(
    settings: BreakerSettings,
    logger: Logger,
    registry: Registry,
    targets: Partial<Record<Upstream, string[]>> = {},
  ) {
    this.retryAfterSeconds = Math.max(1, Math.ceil(settings.resetMs / 1000));
    const open = new Gauge({
      name: 'gateway_breaker_open',
      help: '1 while the circuit breaker of an upstream target is open',
      labelNames: ['upstream', 'target'] as const,
      registers: [registry],
    });
    const state = new Gauge({
      name: 'gateway_breaker_state',
      help: '1 for the state the circuit breaker of an upstream target is in (closed, open, half_open), 0 for the others',
      labelNames: ['upstream', 'target', 'state'] as const,
      registers: [registry],
    });
    this.unseen = new Counter({
      name: 'gateway_breaker_unseen_failures_total',
      help: 'Upstream failures the breaker did not count: their caller had used up BREAKER_FAILURES_PER_CALLER',
      labelNames: ['upstream'] as const,
      registers: [registry],
    });
    this.create = (upstream, target) => {
      const enter = (current: BreakerState) => {
        open.set({ upstream, target }, current === 'open' ? 1 : 0);
        for (const each of BREAKER_STATES)
          state.set({ upstream, target, state: each }, each === current ? 1 : 0);
      };
      const breaker = new CircuitBreaker<[Work], void>(
        async (work) => {
          const outcome = await work();
          if (isUpstreamFailure(outcome)) throw new UpstreamFailure(`${upstream}: ${outcome.kind}`);
        },
        {
          name: `${upstream} ${target}`,
          timeout: false, // the proxy has its own timeout, reported as 504
          errorThresholdPercentage: settings.errorPercent,
          volumeThreshold: settings.volume,
          resetTimeout: settings.resetMs,
          rollingCountTimeout: 10_000,
        },
      );
      enter('closed');
      breaker.on('open', () => {
        enter('open');
        logger.warn({ upstream, target }, 'circuit breaker opened');
      });
      breaker.on('halfOpen', () => {
        enter('half_open');
        logger.info({ upstream, target }, 'circuit breaker half-open: trying one call');
      });
      breaker.on('close', () => {
        enter('closed');
        logger.info({ upstream, target }, 'circuit breaker closed');
      });
      return { breaker, budget: new CallerBudget(settings.failuresPerCaller) };
    };
    for (const upstream of UPSTREAMS) {
      const names = targets[upstream] ?? ['default'];
      this.defaults.set(upstream, names[0] ?? 'default');
      for (const name of names) this.guard(upstream, name);
    }
  }

  private guard(upstream: Upstream, target = this.defaults.get(upstream) ?? 'default'): Guard {
    const key = `${upstream} ${target}`;
    let guard = this.guards.get(key);
    if (!guard) {
      guard = this.create(upstream, target);
      this.guards.set(key, guard);
    }
    return guard;
  }

  /** Whether a call to the target would be let through now: its breaker is not open. */
  admits(upstream: Upstream, target?: string): boolean {
    return !this.guard(upstream, target).breaker.opened;
  }

  /**
   * Runs `work` for `caller` (`user:…` or `ip:…`) through the breaker of the upstream's target;
   * resolves false when the breaker refused it (the caller is owed a 503, or another target), true
   * once `work` has answered the call.
   */
  async run(upstream: Upstream, caller: string, work: Work, target?: string): Promise<boolean> {
    const { breaker, budget } = this.guard(upstream, target);
    if (!budget.reserve(caller)) {
      if (!breaker.closed) return false;
      if (isUpstreamFailure(await work())) this.unseen.inc({ upstream });
      return true;
    }
    let failed = false;
    try {
      await breaker.fire(work);
      return true;
    } catch (err) {
      failed = err instanceof UpstreamFailure; // answered by the proxy already
      const code = (err as { code?: string }).code;
      return code !== 'EOPENBREAKER' && code !== 'ESHUTDOWN'; // refused: `work` never ran
    } finally {
      budget.settle(caller, failed);
    }
  }

  shutdown(): void {
    for (const { breaker } of this.guards.values()) breaker.shutdown();
  }
}
