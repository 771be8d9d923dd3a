import { UPSTREAMS, type Upstream, type UpstreamUrls } from '../routing/upstreams.ts';

/** `degraded`: ready, but a non-critical dependency of its own (Kafka) is down. */
export type UpstreamState = 'up' | 'degraded' | 'down';

export interface AggregateHealth {
  status: 'ok' | 'degraded';
  services: Record<Upstream, UpstreamState>;
  /** A service cannot serve (503 from `/health`); degraded ones still serve (200). */
  anyDown: boolean;
}

async function readiness(url: string, timeoutMs: number): Promise<UpstreamState> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      return 'down';
    }
    const body = (await response.json().catch(() => ({}))) as { status?: unknown };
    return body.status === 'degraded' ? 'degraded' : 'up';
  } catch {
    return 'down';
  }
}

/** An upstream of several targets: up when all are, down when none can serve, degraded between. */
function combined(states: UpstreamState[]): UpstreamState {
  if (states.every((state) => state === 'up')) return 'up';
  return states.some((state) => state !== 'down') ? 'degraded' : 'down';
}

/**
 * Asks every target's readiness in parallel; one slow service cannot delay the answer past the
 * timeout.
 */
export async function aggregateHealth(upstreams: UpstreamUrls, timeoutMs: number): Promise<AggregateHealth> {
  const states = await Promise.all(
    UPSTREAMS.map(async (name) => {
      const targets = await Promise.all(upstreams[name].map((url) => readiness(url, timeoutMs)));
      return [name, combined(targets)] as const;
    }),
  );
  const services = Object.fromEntries(states) as Record<Upstream, UpstreamState>;
  const status = states.every(([, state]) => state === 'up') ? 'ok' : 'degraded';
  return { status, services, anyDown: states.some(([, state]) => state === 'down') };
}
