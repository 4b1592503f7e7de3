// Grafana datasource provisioning for the ClickHouse plugin, with its OpenTelemetry trace settings
// pointed at otel_traces (collector layout), so trace links and Explore → Traces work. Column
// names come from schema.ts. Connection values are ${ENV} references, expanded by Grafana's
// provisioning loader from the Grafana container's environment.
import { DEFAULT_DATABASE, OTEL_TRACES as T, TABLE_OTEL_TRACES, TABLE_OTEL_TRACES_TRACE_ID_TS } from '../shared/clickhouse/schema.ts';
import { DATASOURCE } from './builder.ts';

export function datasourceProvisioning(database: string = DEFAULT_DATABASE): Record<string, unknown> {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'ClickHouse',
        uid: DATASOURCE.uid,
        type: DATASOURCE.type,
        isDefault: true,
        editable: false,
        jsonData: {
          host: '${CLICKHOUSE_HOST}',
          port: 8123,
          protocol: 'http',
          secure: false,
          username: '${CLICKHOUSE_USER}',
          defaultDatabase: database,
          traces: {
            defaultDatabase: database,
            defaultTable: TABLE_OTEL_TRACES,
            otelEnabled: true,
            otelVersion: 'latest',
            traceIdColumn: T.TraceId,
            spanIdColumn: T.SpanId,
            parentSpanIdColumn: T.ParentSpanId,
            operationNameColumn: T.SpanName,
            serviceNameColumn: T.ServiceName,
            startTimeColumn: T.Timestamp,
            durationColumn: T.Duration,
            durationUnit: 'nanoseconds',
            tagsColumn: T.SpanAttributes,
            serviceTagsColumn: T.ResourceAttributes,
            kindColumn: T.SpanKind,
            statusCodeColumn: T.StatusCode,
            statusMessageColumn: T.StatusMessage,
            stateColumn: T.TraceState,
            instrumentationLibraryNameColumn: T.ScopeName,
            instrumentationLibraryVersionColumn: T.ScopeVersion,
            flattenNested: false,
            traceEventsColumnPrefix: T.Events,
            traceLinksColumnPrefix: T.Links,
            traceTimestampTableSuffix: TABLE_OTEL_TRACES_TRACE_ID_TS.slice(TABLE_OTEL_TRACES.length),
          },
        },
        secureJsonData: { password: '${CLICKHOUSE_PASSWORD}' },
      },
    ],
  };
}
