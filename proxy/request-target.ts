// The edge check on what decides where a request goes: its request target and its method. It runs
// before routing, on every request. Only origin-form targets (`/path?query`, RFC 9112 §3.2.1) are
// served; anything a front end could read as another host, or a path that could climb out of a
// provider's base path once decoded, is refused with a 400 of our own — never "fixed" silently, so
// what the app sent and what the provider sees never differ in meaning.
import { SidecarError } from '../shared/errors.ts';

/** Methods the providers' APIs and their official SDKs use (openai, @anthropic-ai/sdk: get, post, delete). */
export const ALLOWED_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'DELETE']);
export const ALLOW_HEADER = [...ALLOWED_METHODS].join(', ');

export interface RequestTarget {
  /** The path with percent-encoded unreserved characters decoded; no dot-segments, no encoded `/` or `\`. */
  path: string;
  /** `?query` as sent, or ''. */
  search: string;
}

// Per byte of a path: 1 = allowed as is (unreserved, sub-delims, ':', '@', '/'), 2 = '%', 0 = refused
// (controls, space, '"', '#', '<', '>', '\\', '^', '`', '{', '|', '}', DEL and every non-ASCII byte).
const PATH_CHAR = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") PATH_CHAR[c.charCodeAt(0)] = 1;
PATH_CHAR[0x25] = 2;

const UNRESERVED = /[A-Za-z0-9\-._~]/;

function refuse(why: string): never {
  throw new SidecarError('LLM_SIDECAR_BAD_REQUEST_TARGET', `request target refused: ${why}`);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Decodes %XX of unreserved characters; refuses encoded separators, controls and broken escapes. */
function decodeUnreserved(path: string): string {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) refuse('a broken percent-encoding in the path');
    const byte = hi * 16 + lo;
    if (byte === 0x2f || byte === 0x5c) refuse('an encoded "/" or "\\" in the path');
    if (byte < 0x20 || byte === 0x7f) refuse('an encoded control character in the path');
    const ch = String.fromCharCode(byte);
    if (UNRESERVED.test(ch)) {
      out += path.slice(from, i) + ch;
      from = i + 3;
    }
    i += 2;
  }
  return from === 0 ? path : out + path.slice(from);
}

/** Whether a path has a `.` or `..` segment. */
function hasDotSegment(path: string): boolean {
  for (let i = path.indexOf('/.'); i !== -1; i = path.indexOf('/.', i + 1)) {
    const next = path.charCodeAt(i + 2);
    if (Number.isNaN(next) || next === 0x2f) return true; // "/." then end or "/"
    if (next === 0x2e) {
      const after = path.charCodeAt(i + 3);
      if (Number.isNaN(after) || after === 0x2f) return true; // "/.." then end or "/"
    }
  }
  return false;
}

/**
 * Checks a raw request target (Node's `req.url`, exactly as the client sent it) and returns its
 * path, decoded of unreserved escapes, and its query. Throws `LLM_SIDECAR_BAD_REQUEST_TARGET`.
 */
export function checkRequestTarget(raw: string): RequestTarget {
  if (raw.charCodeAt(0) !== 0x2f) refuse('only origin-form targets ("/path?query") are served');
  if (raw.charCodeAt(1) === 0x2f) refuse('a target starting with "//" names another host');
  const q = raw.indexOf('?');
  let path = q === -1 ? raw : raw.slice(0, q);
  const search = q === -1 ? '' : raw.slice(q);
  let percent = false;
  for (let i = 0; i < path.length; i++) {
    const kind = PATH_CHAR[path.charCodeAt(i)] ?? 0;
    if (kind === 0) refuse(`character 0x${path.charCodeAt(i).toString(16).padStart(2, '0')} is not allowed in a path`);
    if (kind === 2) percent = true;
  }
  for (let i = 0; i < search.length; i++) {
    const c = search.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x23) refuse('a control character or "#" in the query');
  }
  if (percent) path = decodeUnreserved(path);
  if (hasDotSegment(path)) refuse('dot-segments ("." or "..") in the path');
  return { path, search };
}
