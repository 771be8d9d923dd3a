// OpenTelemetry tracing (architecture.md §8), set up once per process by its entry (`main.ts`)
// before the service's own modules load. Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then no SDK is loaded and every helper below returns
// at its first line, so the hot path pays for one boolean.
//
// HTTP (incoming and outgoing), Express routes, pg and MongoDB calls and fetch (undici) are traced by
// the maintained instrumentations. Kafka is traced here, not by instrumentation-kafkajs: the outbox
// relay publishes rows written by many requests in one `sendBatch`, and the stock instrumentation
// would give them all the relay's context; here each message carries the context its row was
// written in (`captureTraceContext`), and each consumer restores it per event.
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
// Types only: the SDK itself loads (dynamically) only when tracing is on.
import type * as SdkTraceModule from '@opentelemetry/sdk-trace';
import type { Sampler } from '@opentelemetry/sdk-trace';
import type { IHeaders } from 'kafkajs';
import { headerText } from '../events/kafka-headers.ts';

/** W3C trace context (`traceparent`, maybe `tracestate`) as kept with an outbox row and sent in headers. */
export type TraceCarrier = Record<string, string>;

let enabled = false;
let shutdownProvider: (() => Promise<void>) | undefined;

const tracer = () => trace.getTracer('trellis');

/** Query parameters whose values never reach a span: ours (as in logs), and the instrumentation's own list. */
const REDACTED_QUERY_PARAMS = [
  'access_token',
  'refresh_token',
  'token',
  'code',
  'sig',
  'Signature',
  'AWSAccessKeyId',
  'X-Goog-Signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
];

/** Paths no trace is made for: probes and scrapes, many per second and of no interest. */
const UNTRACED_PATH = /^\/(health|metrics)(\/|$|\?)/;

export const isTracingEnabled = (): boolean => enabled;

function configuredEndpoint(): string | undefined {
  const endpoint =
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint) return undefined;
  if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol))
    throw new Error(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  return endpoint;
}

type SdkTrace = typeof SdkTraceModule;

function envNumber(name: string, min: number, max: number): number | undefined {
  const raw = process.env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new Error(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

/**
 * The sampler the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name (the SDK's 3.x
 * TracerProvider reads no env itself). Default: parentbased_always_on — every trace, and a caller's
 * `traceparent` decides for its own requests.
 */
function sampler(sdk: SdkTrace) {
  const name = process.env.OTEL_TRACES_SAMPLER?.trim() || 'parentbased_always_on';
  const ratio = () => new sdk.TraceIdRatioBasedSampler(envNumber('OTEL_TRACES_SAMPLER_ARG', 0, 1) ?? 1);
  const samplers: Record<string, () => Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new sdk.ParentBasedSampler({ root: ratio() }),
  };
  const make = samplers[name];
  if (!make)
    throw new Error(`OTEL_TRACES_SAMPLER must be one of ${Object.keys(samplers).join(', ')}, got "${name}"`);
  return make();
}

/** The batch processor's OTEL_BSP_* settings (defaults: the specification's). */
function batchOptions() {
  return {
    scheduledDelayMillis: envNumber('OTEL_BSP_SCHEDULE_DELAY', 1, 600_000) ?? 5_000,
    exportTimeoutMillis: envNumber('OTEL_BSP_EXPORT_TIMEOUT', 1, 600_000) ?? 30_000,
    maxQueueSize: envNumber('OTEL_BSP_MAX_QUEUE_SIZE', 1, 1_000_000) ?? 2_048,
    maxExportBatchSize: envNumber('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1, 1_000_000) ?? 512,
  };
}

/**
 * Starts tracing for `service` when an OTLP endpoint is configured. Must run before the service's
 * modules are imported (express is hooked as it loads), hence `main.ts` imports the service after it.
 */
export async function startTracing(service: string): Promise<void> {
  if (enabled || !configuredEndpoint()) return;
  const { register } = await import('node:module');
  // Only express needs the ESM loader hook: pg, mongodb and http are loaded by `require` (Sequelize,
  // Mongoose, http-proxy), which the instrumentations patch without one.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: ['express'] } });
  const [
    { AsyncLocalStorageContextManager },
    { W3CTraceContextPropagator },
    { resourceFromAttributes },
    sdk,
    { OTLPTraceExporter },
    { registerInstrumentations },
    { HttpInstrumentation },
    { ExpressInstrumentation, ExpressLayerType },
    { PgInstrumentation },
    { MongoDBInstrumentation },
    { UndiciInstrumentation },
  ] = await Promise.all([
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-express'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-mongodb'),
    import('@opentelemetry/instrumentation-undici'),
  ]);
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME?.trim() || service }),
    sampler: sampler(sdk),
    // The exporter reads the endpoint (and headers, timeout) from the standard OTEL_* variables.
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batchOptions() })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATH.test(req.url ?? ''),
        // Spans keep the query string: credentials in it (a WebSocket's `?access_token=`) are masked.
        redactedQueryParamsServer: REDACTED_QUERY_PARAMS,
        redactedQueryParams: REDACTED_QUERY_PARAMS,
        // A service's own calls outside any trace (JWKS refreshes, health probes of its peers).
        requireParentforOutgoingSpans: true,
      }),
      // Route handlers and routers only: a span per middleware (helmet, auth, rate limit…) of every
      // request would be most of a trace, and of its cost.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // Queries outside a trace (the outbox relay's claims, sweeps, metrics) make no trace of their own.
      new PgInstrumentation({ requireParentSpan: true }),
      new MongoDBInstrumentation({ requireParentSpan: true }),
      new UndiciInstrumentation({ requireParentforSpans: true }),
    ],
  });
  shutdownProvider = () => provider.shutdown();
  enabled = true;
}

/** Sends the spans still buffered (the last step of a shutdown). */
export async function stopTracing(): Promise<void> {
  await shutdownProvider?.();
}

/** The current trace context, to keep with an outbox row; null when tracing is off or no trace is active. */
export function captureTraceContext(): TraceCarrier | null {
  if (!enabled) return null;
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : null;
}

/** Runs `fn` outside any trace: background work woken by a request is not part of that request's trace. */
export function outsideTraces<T>(fn: () => T): T {
  return enabled ? context.with(ROOT_CONTEXT, fn) : fn();
}

const fromCarrier = (carrier: TraceCarrier): Context => propagation.extract(ROOT_CONTEXT, carrier);

/** A carrier kept as JSON text; null when absent or unreadable (a trace never holds an event back). */
export function parseTraceCarrier(text: string | undefined): TraceCarrier | null {
  if (!text) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as TraceCarrier) : null;
  } catch {
    return null;
  }
}

function failed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** Ends the spans of one send, each marked failed when `err` is given. */
function endAll(spans: Array<Span | undefined>, err: unknown): void {
  for (const span of spans) {
    if (!span) continue;
    if (err !== undefined) failed(span, err);
    span.end();
  }
}

/**
 * Spans for one relay pass of an outbox: one `outbox relay` span per row that was written in a
 * trace, child of that trace. `carrier(i)` is the context the row's message should be sent under;
 * `end` closes them all.
 */
export function relaySpans(traces: Array<TraceCarrier | null | undefined>): {
  carrier: (index: number) => TraceCarrier | undefined;
  end: (err?: unknown) => void;
} {
  if (!enabled || traces.every((t) => !t)) return { carrier: () => undefined, end: () => {} };
  const spans = traces.map((stored) =>
    stored ? tracer().startSpan('outbox relay', { kind: SpanKind.INTERNAL }, fromCarrier(stored)) : undefined,
  );
  return {
    carrier: (index) => {
      const span = spans[index];
      if (!span) return undefined;
      const carrier: TraceCarrier = {};
      propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
      return carrier;
    },
    end: (err) => endAll(spans, err),
  };
}

/**
 * A producer span per traced message of one Kafka request (`<topic> publish`), child of the
 * context the message was handed in; the message's headers get the span's own context, which is
 * what the consumers continue. Call `end` when the broker has answered.
 */
export function produceSpans(
  messages: Array<{
    topic: string;
    eventId: string;
    trace?: TraceCarrier | undefined;
    headers: TraceCarrier;
  }>,
): (err?: unknown) => void {
  if (!enabled) return () => {};
  const spans: Span[] = [];
  for (const message of messages) {
    if (!message.trace) continue;
    const span = tracer().startSpan(
      `${message.topic} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'send',
          'messaging.destination.name': message.topic,
          'messaging.message.id': message.eventId,
        },
      },
      fromCarrier(message.trace),
    );
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), message.headers);
    spans.push(span);
  }
  return (err) => endAll(spans, err);
}

const kafkaHeaderGetter: TextMapGetter<IHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: headerText,
};

/**
 * Runs a consumer's handling of one event inside a `<topic> process` span, child of the context
 * the message was produced in (its headers), so the handler's own database calls and the events it
 * writes continue the trace of the request that caused the event.
 */
export function consumeInSpan<T>(
  message: {
    topic: string;
    group: string;
    eventId: string;
    eventType: string;
    headers: IHeaders | undefined;
  },
  fn: () => Promise<T>,
): Promise<T> {
  if (!enabled) return fn();
  const parent = propagation.extract(ROOT_CONTEXT, message.headers ?? {}, kafkaHeaderGetter);
  const span = tracer().startSpan(
    `${message.topic} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': message.topic,
        'messaging.consumer.group.name': message.group,
        'messaging.message.id': message.eventId,
        'trellis.event.type': message.eventType,
      },
    },
    parent,
  );
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn();
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** `traceId`/`spanId` of the active span for a log line; nothing when tracing is off. */
export function traceLogFields(): { traceId?: string; spanId?: string } {
  if (!enabled) return {};
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}
