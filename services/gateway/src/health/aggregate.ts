import { UPSTREAMS, type Upstream, type UpstreamUrls } from '../routing/upstreams.ts';

export type UpstreamState = 'up' | 'down';

export interface AggregateHealth {
  status: 'ok' | 'degraded';
  services: Record<Upstream, UpstreamState>;
}

async function readiness(url: string, timeoutMs: number): Promise<UpstreamState> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok ? 'up' : 'down';
  } catch {
    return 'down';
  }
}

/** Asks every upstream's readiness in parallel; one slow service cannot delay the answer past the timeout. */
export async function aggregateHealth(upstreams: UpstreamUrls, timeoutMs: number): Promise<AggregateHealth> {
  const states = await Promise.all(
    UPSTREAMS.map(async (name) => [name, await readiness(upstreams[name], timeoutMs)] as const),
  );
  const services = Object.fromEntries(states) as Record<Upstream, UpstreamState>;
  return { status: states.every(([, state]) => state === 'up') ? 'ok' : 'degraded', services };
}
