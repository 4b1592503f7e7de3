// Faults selectable per request: header `x-fake-fault: key=value,key,...` or magic model names
// (`…-fake-error-429`, `…-fake-slow-500`, `…-fake-cut-3`, `…-fake-malformed`, `…-fake-drip`).
export interface Faults {
  status?: number;
  body?: string;
  retryAfter?: string;
  retryAfterMs?: string;
  delayMs?: number;
  chunkDelayMs?: number;
  cutAfter?: number;
  malformed?: boolean;
  drip?: boolean;
  toolCall?: boolean;
  usage?: number[];
  words?: number;
}

const NONE: Faults = Object.freeze({}) as Faults;

export function parseFaults(header: string | string[] | undefined, model: string | undefined): Faults {
  const h = Array.isArray(header) ? header.join(',') : header;
  if (h === undefined && (model === undefined || !model.includes('fake-'))) return NONE;
  const f: Faults = {};
  for (const part of (h ?? '').split(',')) {
    const [rawKey, ...rest] = part.split('=');
    const key = rawKey?.trim();
    const value = rest.join('=').trim();
    switch (key) {
      case 'status': f.status = Number(value); break;
      case 'body': f.body = decodeURIComponent(value); break;
      case 'retry-after': f.retryAfter = value; break;
      case 'retry-after-ms': f.retryAfterMs = value; break;
      case 'delay': f.delayMs = Number(value); break;
      case 'chunk-delay': f.chunkDelayMs = Number(value); break;
      case 'cut': f.cutAfter = Number(value); break;
      case 'malformed': f.malformed = true; break;
      case 'drip': f.drip = true; break;
      case 'tool_call': f.toolCall = true; break;
      case 'usage': f.usage = value.split('/').map(Number); break;
      case 'words': f.words = Number(value); break;
      default: break;
    }
  }
  if (model) {
    const m = /fake-(error|slow|cut)-(\d+)/.exec(model);
    if (m?.[1] === 'error') f.status = Number(m[2]);
    if (m?.[1] === 'slow') f.delayMs = Number(m[2]);
    if (m?.[1] === 'cut') f.cutAfter = Number(m[2]);
    if (model.includes('fake-malformed')) f.malformed = true;
    if (model.includes('fake-drip')) f.drip = true;
  }
  return f;
}
