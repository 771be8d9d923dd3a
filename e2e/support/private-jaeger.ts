import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@trellis/shared/testing';
import { ensureJaeger, jaegerAnswers, spawnJaeger } from '../../infra/local/jaeger/jaeger.ts';
import { freePort, terminate } from '../../infra/local/proc.ts';

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; spanID: string; traceID: string }>;
  processID: string;
  tags: Array<{ key: string; value: unknown }>;
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

export interface PrivateJaeger {
  /** Where services send spans (OTEL_EXPORTER_OTLP_ENDPOINT). */
  otlpUrl: string;
  /** The UI and its query API. */
  url: string;
  /** One trace as Jaeger's query API gives it, or undefined while it knows none of it. */
  trace: (traceId: string) => Promise<JaegerTrace | undefined>;
  close: () => Promise<void>;
}

/** A Jaeger of the test's own (built into the cache first if needed), on free ports, spans in memory. */
export async function startPrivateJaeger(): Promise<PrivateJaeger> {
  await ensureJaeger();
  const dir = mkdtempSync(join(tmpdir(), 'trellis-jaeger-'));
  const layout = {
    otlpPort: await freePort(),
    uiPort: await freePort(),
    grpcPort: await freePort(),
    log: join(dir, 'jaeger.log'),
    dir,
  };
  const pid = spawnJaeger(layout);
  const reap = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', reap);
  const url = `http://127.0.0.1:${layout.uiPort}`;
  await waitFor(() => jaegerAnswers(url), { what: `Jaeger on ${url}`, timeoutMs: 30_000, intervalMs: 250 });
  return {
    otlpUrl: `http://127.0.0.1:${layout.otlpPort}`,
    url,
    trace: async (traceId) => {
      const response = await fetch(`${url}/api/traces/${traceId}`);
      if (response.status === 404) return undefined;
      const body = (await response.json()) as { data?: JaegerTrace[] };
      return body.data?.[0];
    },
    close: async () => {
      await terminate(pid, dir, 5_000);
      process.off('exit', reap);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
