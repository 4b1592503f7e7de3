// The OpenTelemetry tracer provider of one sidecar: resource (the app's service name, Kubernetes pod,
// namespace and node from the downward API), an always-on sampler (cost and usage must be complete,
// whatever the app's own sampling decided), and batch processors in front of each exporter, so export
// never runs on the request path (an exporter that is its own processor, like the ClickHouse one,
// takes spans one by one). `emit` hands a finished span that was built directly (the span recorder's
// per-call spans) to the same processors the tracer's spans go to. Instance-based, never registered globally: several sidecars can
// live in one process (tests, the demo) without sharing state.
import { hostname } from 'node:os';
import type { Tracer } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { randomHex } from './ids.ts';
import { resourceAttributesFromEnv } from './otel-env.ts';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type IdGenerator, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * Lets the span recorder give a root span the trace id the proxy chose while the request ran
 * (evaluation sampling is decided from it before any span exists). Set `next` right before
 * starting a root span; span creation is synchronous, so nothing can interleave.
 */
export class PresetTraceIdGenerator implements IdGenerator {
  next: string | undefined;

  generateTraceId(): string {
    const id = this.next ?? randomHex(16);
    this.next = undefined;
    return id;
  }

  generateSpanId(): string {
    return randomHex(8);
  }
}

export interface TracingOptions {
  serviceName: string;
  exporters: SpanExporter[];
  /** Extra processors (tests use a SimpleSpanProcessor with an in-memory exporter). */
  processors?: SpanProcessor[];
  env?: NodeJS.ProcessEnv;
}

/** Where directly built spans go: the tracer's processors, with the tracer's resource and scope. */
export interface SpanSink {
  resource: Resource;
  scope: InstrumentationScope;
  emit(span: ReadableSpan): void;
}

export interface Tracing extends SpanSink {
  tracer: Tracer;
  ids: PresetTraceIdGenerator;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Resource attributes from the environment that a Kubernetes downward API provides. */
export function resourceAttributes(serviceName: string, env: NodeJS.ProcessEnv): Record<string, string> {
  // OTEL_RESOURCE_ATTRIBUTES adds to (and overrides) the defaults; OTEL_SERVICE_NAME wins over both (spec).
  const attrs: Record<string, string> = {
    'service.name': serviceName,
    'service.instance.id': env.POD_NAME || env.HOSTNAME || hostname(),
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'opentelemetry',
    'llm_sidecar.version': '0.1.0',
    ...resourceAttributesFromEnv(env),
  };
  if (env.OTEL_SERVICE_NAME) attrs['service.name'] = env.OTEL_SERVICE_NAME;
  const k8s: [string, string | undefined][] = [
    ['k8s.pod.name', env.K8S_POD_NAME ?? env.POD_NAME],
    ['k8s.namespace.name', env.K8S_NAMESPACE_NAME ?? env.POD_NAMESPACE],
    ['k8s.node.name', env.K8S_NODE_NAME ?? env.NODE_NAME],
    ['k8s.pod.uid', env.K8S_POD_UID ?? env.POD_UID],
  ];
  for (const [k, v] of k8s) if (v) attrs[k] = v;
  return attrs;
}

export function createTracing(options: TracingOptions): Tracing {
  // The OTLP exporter serialises a whole batch synchronously. With the SDK's serializer (~10 µs per
  // span when this was chosen, 5.4–5.7 µs on 2026-12-03) 256-span batches kept that stall at
  // ~1.5–2.5 ms, where 1024 put +20 ms on the p99 at 500 req/s (npm run bench, proxy-otlp). Ours
  // (otlp-protobuf.ts) takes ~2.1 µs per span: 0.6 ms of CPU for 256, 2.1 ms for 1024.
  const processors: SpanProcessor[] = [
    ...options.exporters.map((e) =>
      isSpanProcessor(e) ? e : new BatchSpanProcessor(e, { maxQueueSize: 16384, maxExportBatchSize: 256, scheduledDelayMillis: 1000, exportTimeoutMillis: 30_000 }),
    ),
    ...(options.processors ?? []),
  ];
  const ids = new PresetTraceIdGenerator();
  const resource = resourceFromAttributes(resourceAttributes(options.serviceName, options.env ?? process.env));
  const provider = new BasicTracerProvider({ idGenerator: ids, resource, sampler: new AlwaysOnSampler(), spanProcessors: processors });
  const scope: InstrumentationScope = { name: 'llm-sidecar', version: '0.1.0' };
  return {
    tracer: provider.getTracer(scope.name, scope.version),
    ids,
    resource,
    scope,
    emit(span) {
      for (const p of processors) p.onEnd(span);
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

function isSpanProcessor(e: SpanExporter | (SpanExporter & SpanProcessor)): e is SpanExporter & SpanProcessor {
  return typeof (e as Partial<SpanProcessor>).onEnd === 'function';
}
