// npm run bench:gateway — authenticated GET /api/v1/users/me, directly against identity and
// through the gateway, same concurrency and duration, in one run. Prints req/s, p50, p99 and the
// gateway/direct ratio, and the CPU the gateway and identity spent per request. Not part of npm test: figures, not assertions.
import { resolve as resolvePath } from 'node:path';
import autocannon from 'autocannon';
import { downStarted, up } from '../infra/local/stack.ts';
import { stackEnv } from '../infra/local/services.ts';
import { cpuDuring } from './cpu.ts';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const duration = Number(process.env.BENCH_SECONDS ?? 10);

const started = new Set<string>();
await up(started);
Object.assign(process.env, stackEnv());
// Imported after the stack env is set: the harness reads it at load time.
const { startSuite } = await import('../e2e/support/suite.ts');
// BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the gateway.
const cpuProfileDir = process.env.BENCH_CPU_PROF && resolvePath(process.env.BENCH_CPU_PROF);
const suite = await startSuite({
  logLevel: 'error',
  env: {
    gateway: {
      RATE_LIMIT_PER_USER: '100000000',
      RATE_LIMIT_PER_IP: '100000000',
      ...(cpuProfileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${cpuProfileDir}` } : {}),
    },
  },
});

try {
  const email = `bench-${Date.now()}@example.test`;
  const registered = await fetch(`${suite.gatewayUrl}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: 'benchmark-password', name: 'Bench' }),
  });
  if (registered.status !== 201)
    throw new Error(`register answered ${registered.status}: ${await registered.text()}`);
  const { accessToken } = (await registered.json()) as { accessToken: string };
  const headers = { authorization: `Bearer ${accessToken}` };

  const run = async (name: string, base: string) => {
    const warm = await autocannon({ url: `${base}/api/v1/users/me`, headers, connections, duration: 2 });
    if (warm.non2xx > 0) throw new Error(`${name}: ${warm.non2xx} non-2xx answers during warm-up`);
    const pids = [suite.pid('gateway'), suite.pid('identity')].filter((pid) => pid !== undefined);
    const { result, ms } = await cpuDuring(pids, () =>
      autocannon({ url: `${base}/api/v1/users/me`, headers, connections, duration }),
    );
    const requests = result.requests.total;
    return {
      name,
      gatewayCpu: (ms[0] ?? NaN) / requests,
      identityCpu: (ms[1] ?? NaN) / requests,
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors + result.non2xx,
    };
  };
  const direct = await run('identity direct', suite.urls.identity);
  const gateway = await run('through gateway', suite.gatewayUrl);

  console.log(`\nGET /api/v1/users/me, ${connections} connections, ${duration} s each (autocannon)\n`);
  console.log('                    req/s     p50 ms   p99 ms   errors   CPU ms/request: gateway  identity');
  for (const r of [direct, gateway]) {
    console.log(
      `${r.name.padEnd(18)} ${r.rps.toFixed(0).padStart(7)} ${String(r.p50).padStart(9)} ${String(r.p99).padStart(8)} ${String(r.errors).padStart(8)}` +
        `${r.gatewayCpu.toFixed(3).padStart(25)} ${r.identityCpu.toFixed(3).padStart(9)}`,
    );
  }
  console.log(
    `\ngateway/direct: throughput ${(gateway.rps / direct.rps).toFixed(2)}×, p50 ${(gateway.p50 / Math.max(direct.p50, 1)).toFixed(2)}×, p99 ${(gateway.p99 / Math.max(direct.p99, 1)).toFixed(2)}×`,
  );
} finally {
  await suite.close();
  await downStarted(started);
}
