import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '@trellis/shared';
import { UPSTREAMS, type Upstream } from './upstreams.ts';

/** The fields of a target http-proxy reads (those of a legacy `url.parse` result). */
export interface ProxyTarget {
  href: string;
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  path: string;
  pathname: string;
}

function parsedTarget(url: string): ProxyTarget {
  const u = new URL(url);
  return {
    href: u.href,
    protocol: u.protocol,
    host: u.host,
    // url.parse gave IPv6 literals without their brackets, as http.request expects them.
    hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port,
    path: u.pathname + u.search,
    pathname: u.pathname,
  };
}

/** One replica (or one load-balanced address, such as a Kubernetes Service) of an upstream. */
export interface Target {
  upstream: Upstream;
  /** The base URL, without a trailing slash. */
  url: string;
  /** `host:port`: the `target` label of its metrics. */
  name: string;
  /** Parsed once: http-proxy would otherwise run the legacy url.parse on a string target per request. */
  proxy: ProxyTarget;
}

export interface PoolSettings {
  /** How often each target's `/health/ready` is asked. */
  healthIntervalMs: number;
  healthTimeoutMs: number;
}

/**
 * Every upstream's targets and whether each is fit to take requests. A target is out of rotation
 * from the moment it refuses a connection (passive ejection) or its `/health/ready` answers anything
 * but 200 — a draining replica answers 503 — until its readiness answers 200 again (active checks,
 * every `healthIntervalMs`). Requests go round-robin over the targets in rotation; when none is,
 * over all of them (a stale view is better than refusing everyone).
 */
export class UpstreamPool {
  readonly targets: Record<Upstream, Target[]>;
  private readonly out = new Set<Target>();
  private readonly cursor = new Map<Upstream, number>();
  private readonly gauge: Gauge<'upstream'>;
  private readonly logger: Logger;
  private readonly settings: PoolSettings;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(urls: Record<Upstream, string[]>, settings: PoolSettings, logger: Logger, registry: Registry) {
    this.settings = settings;
    this.logger = logger;
    this.targets = Object.fromEntries(
      UPSTREAMS.map((upstream) => [
        upstream,
        urls[upstream].map((url) => {
          const base = url.replace(/\/+$/, '');
          return { upstream, url: base, name: new URL(base).host, proxy: parsedTarget(base) };
        }),
      ]),
    ) as Record<Upstream, Target[]>;
    this.gauge = new Gauge({
      name: 'gateway_upstream_targets_in_rotation',
      help: 'Targets of an upstream that take requests: not ejected, and ready at their last check',
      labelNames: ['upstream'] as const,
      registers: [registry],
    });
    for (const upstream of UPSTREAMS) this.report(upstream);
  }

  /**
   * The next target for a request to `upstream`, round-robin, skipping those it was already sent to
   * and those `admits` refuses (an open breaker); targets in rotation first. Undefined when none is left.
   */
  pick(
    upstream: Upstream,
    tried: ReadonlySet<Target>,
    admits: (target: Target) => boolean,
  ): Target | undefined {
    const all = this.targets[upstream];
    if (all.length === 1) {
      // One target (a Kubernetes Service): nothing to choose, and nothing allocated per request.
      const only = all[0] as Target;
      return !tried.has(only) && admits(only) ? only : undefined;
    }
    const start = this.cursor.get(upstream) ?? 0;
    this.cursor.set(upstream, (start + 1) % all.length);
    const ordered = all.map((_, i) => all[(start + i) % all.length] as Target);
    const candidates = ordered.filter((target) => !tried.has(target) && admits(target));
    return candidates.find((target) => !this.out.has(target)) ?? candidates[0];
  }

  /** Out of rotation until its readiness answers 200 again: it refused a connection. */
  eject(target: Target, reason: string): void {
    if (this.out.has(target)) return;
    this.out.add(target);
    this.logger.warn({ upstream: target.upstream, target: target.name, reason }, 'upstream target ejected');
    this.report(target.upstream);
  }

  inRotation(target: Target): boolean {
    return !this.out.has(target);
  }

  /** Starts the active health checks (unref'd: they keep no process alive). */
  start(): void {
    this.timer ??= setInterval(() => void this.checkAll(), this.settings.healthIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round of readiness checks, all targets in parallel. */
  async checkAll(): Promise<void> {
    await Promise.all(UPSTREAMS.flatMap((upstream) => this.targets[upstream].map((t) => this.check(t))));
  }

  private async check(target: Target): Promise<void> {
    let ready = false;
    try {
      const response = await fetch(`${target.url}/health/ready`, {
        signal: AbortSignal.timeout(this.settings.healthTimeoutMs),
      });
      await response.body?.cancel();
      ready = response.status === 200;
    } catch {
      ready = false;
    }
    const wasOut = this.out.has(target);
    if (ready === !wasOut) return;
    if (ready) this.out.delete(target);
    else this.out.add(target);
    this.logger[ready ? 'info' : 'warn'](
      { upstream: target.upstream, target: target.name },
      ready ? 'upstream target back in rotation' : 'upstream target not ready: out of rotation',
    );
    this.report(target.upstream);
  }

  private report(upstream: Upstream): void {
    const count = this.targets[upstream].filter((target) => !this.out.has(target)).length;
    this.gauge.set({ upstream }, count);
  }
}
