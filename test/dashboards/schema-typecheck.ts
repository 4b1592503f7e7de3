// Type-checks generated dashboard JSON against @grafana/schema with the TypeScript compiler, the
// way a hand-written dashboard in TypeScript would be: each dashboard becomes an object literal
// assigned to the schema's Dashboard type (so excess or misspelled properties are errors too),
// with ClickHouse targets narrowed to the plugin's raw-SQL query shape and pluginVersion required.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const HERE = dirname(fileURLToPath(import.meta.url));
/** A virtual file beside this one, so `@grafana/schema` and `../../dashboards/builder.ts` resolve. */
const VIRTUAL = join(HERE, '__schema_typecheck__.ts');

const PRELUDE = `import type { Dashboard, DataQuery, Panel, RowPanel, VariableModel } from '@grafana/schema';
import type { CLICKHOUSE_PLUGIN_VERSION, DATASOURCE } from '../../dashboards/builder.ts';
/** The ClickHouse plugin's raw-SQL query (CHSqlQuery in grafana/clickhouse-datasource src/types/sql.ts), v4 shape. */
type ClickHouseQuery = DataQuery & {
  datasource: typeof DATASOURCE;
  editorType: 'sql';
  queryType: 'timeseries' | 'table' | 'logs' | 'traces';
  format: 0 | 1 | 2 | 3;
  rawSql: string;
  pluginVersion: typeof CLICKHOUSE_PLUGIN_VERSION;
};
type SemVer = \`\${number}.\${number}.\${number}\`;
type ClickHousePanel = Omit<Panel, 'targets' | 'pluginVersion' | 'type'> & { type: Exclude<string, 'row'>; pluginVersion: SemVer; targets?: ClickHouseQuery[] };
type Row = Omit<RowPanel, 'panels'> & { panels: ClickHousePanel[] };
/** Grafana saves a query variable's display text as \`definition\`; the schema's VariableModel does not list it. */
type Variable = VariableModel & { definition?: string };
/** JSON holds an enum's value, never the enum: string enums become the union of their values (\`'absolute'\` for ThresholdsMode.Absolute). */
type Json<T> = T extends string ? \`\${T}\` : T extends readonly (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;
type ClickHouseDashboard = Json<Omit<Dashboard, 'panels' | 'templating'> & { panels: Array<ClickHousePanel | Row>; templating: { list: Variable[] } }>;
`;

export interface Diagnostic {
  /** The name the JSON was checked under. */
  name: string;
  message: string;
}

/** Type-checks each JSON document (name → JSON text); returns every diagnostic, attributed to its document. */
export function typeCheckDashboards(documents: Record<string, string>): Diagnostic[] {
  const ranges: { name: string; start: number; end: number }[] = [];
  let text = PRELUDE;
  let i = 0;
  for (const [name, json] of Object.entries(documents)) {
    const decl = `export const d${i++}: ClickHouseDashboard = ${json.trim()};\n`;
    ranges.push({ name, start: text.length, end: text.length + decl.length });
    text += decl;
  }
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, lang, ...rest) => (file === VIRTUAL ? ts.createSourceFile(file, text, lang) : getSourceFile(file, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === VIRTUAL || fileExists(file);
  const program = ts.createProgram([VIRTUAL], options, host);
  const source = program.getSourceFile(VIRTUAL);
  const all = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  return all.map((d) => {
    const at = d.start ?? 0;
    const owner = ranges.find((r) => at >= r.start && at < r.end);
    return { name: owner?.name ?? '(prelude)', message: ts.flattenDiagnosticMessageText(d.messageText, '\n') };
  });
}
