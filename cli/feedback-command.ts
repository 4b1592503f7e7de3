// `llm-sidecar feedback`: send a user's feedback on a call from a script, through the running
// sidecar's `POST /llm-sidecar/v1/feedback` (the same validation, lookup and idempotency as an app
// gets; the embedded store is held by the proxy's process, so going through it is the one way).
import { RESPONSE_HEADERS } from '../shared/sidecar-headers.ts';
import { FeedbackRequestSchema, describeIssues, issuesOf } from '../shared/feedback.ts';

export interface FeedbackCommandOptions {
  /** The sidecar's traffic URL, e.g. http://127.0.0.1:4000. */
  url: string;
  requestId?: string;
  traceId?: string;
  name?: string;
  /** A whole number (−1, 5) or a label (`wrong-order`). */
  value?: string;
  comment?: string;
  user?: string;
}

export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: CommandIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** 0 stored; 1 the sidecar refused it or could not be reached; 2 bad arguments. */
export async function runFeedbackCommand(o: FeedbackCommandOptions, io: CommandIo = stdio): Promise<number> {
  // A missing flag is named as a flag (the schema alone says "value: Invalid input").
  const missing = [o.name === undefined ? '--name' : '', o.value === undefined ? '--value' : ''].filter(Boolean);
  if (missing.length > 0) {
    io.err(`llm-sidecar: feedback needs ${missing.join(' and ')} (llm-sidecar feedback --help)\n`);
    return 2;
  }
  const value = o.value !== undefined && /^[+-]?\d+$/.test(o.value) ? Number(o.value) : o.value;
  const body = { requestId: o.requestId, traceId: o.traceId, name: o.name, value, comment: o.comment, user: o.user };
  const checked = FeedbackRequestSchema.safeParse(body);
  if (!checked.success) {
    io.err(`llm-sidecar: invalid feedback: ${describeIssues(issuesOf(checked.error))}\n`);
    return 2;
  }
  let url: URL;
  try {
    url = new URL('/llm-sidecar/v1/feedback', o.url);
  } catch {
    io.err(`llm-sidecar: --url ${JSON.stringify(o.url)} is not a URL (e.g. http://127.0.0.1:4000)\n`);
    return 2;
  }
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(checked.data), signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    io.err(`llm-sidecar: cannot reach the sidecar at ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}\n`);
    return 1;
  }
  const text = await res.text();
  if (res.status === 202) {
    io.out(`${text}\n`);
    return 0;
  }
  const code = res.headers.get(RESPONSE_HEADERS.error);
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
  } catch {
    // not JSON: print the body as it came
  }
  io.err(`llm-sidecar: feedback refused: HTTP ${res.status}${code ? ` ${code}` : ''}: ${message}\n`);
  return 1;
}
