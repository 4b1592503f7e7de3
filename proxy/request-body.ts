// Reading and checking an LLM request body. The sidecar needs the model (and a few fields) to route
// and measure; it parses the JSON once and leaves the rest for the provider to validate, so the
// app sees the provider's own messages for everything the sidecar does not own.
import type { IncomingMessage } from 'node:http';
import { SidecarError } from '../shared/errors.ts';

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    return Promise.reject(new SidecarError('LLM_SIDECAR_BODY_TOO_LARGE', `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new SidecarError('LLM_SIDECAR_BODY_TOO_LARGE', `request body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}

export type JsonObject = Record<string, unknown>;

export function parseJsonObject(body: Buffer): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new SidecarError('LLM_SIDECAR_INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SidecarError('LLM_SIDECAR_INVALID_REQUEST', 'request body must be a JSON object');
  }
  return parsed as JsonObject;
}

export function requireModel(body: JsonObject): string {
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0) {
    throw new SidecarError('LLM_SIDECAR_INVALID_REQUEST', '"model" is required and must be a non-empty string');
  }
  return model;
}

const INCLUDE_USAGE = Buffer.from('"stream_options":{"include_usage":true},');

/**
 * Adds `stream_options.include_usage` so the provider reports usage at the end of the stream.
 * When the app sent no `stream_options`, the key is spliced in after the opening brace, leaving
 * every other byte as the app wrote it; otherwise the object is re-serialised.
 */
export function withIncludeUsage(raw: Buffer, body: JsonObject): Buffer {
  if (body.stream_options === undefined) {
    const open = raw.indexOf(0x7b); // '{'
    if (open !== -1) return Buffer.concat([raw.subarray(0, open + 1), INCLUDE_USAGE, raw.subarray(open + 1)]);
  }
  const so = body.stream_options;
  const base = so !== null && typeof so === 'object' && !Array.isArray(so) ? (so as JsonObject) : {};
  return Buffer.from(JSON.stringify({ ...body, stream_options: { ...base, include_usage: true } }));
}

/** The app asked for usage itself: the sidecar then forwards the usage chunk untouched. */
export function clientAskedForUsage(body: JsonObject): boolean {
  const so = body.stream_options;
  return so !== null && typeof so === 'object' && (so as JsonObject).include_usage === true;
}
