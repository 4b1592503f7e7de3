// Identifiers shaped like the real ones (`chatcmpl-…`, `call_…`, `msg_01…`, `toolu_01…`, `req_…`) but
// cheap: a per-instance random tag plus a counter, so they differ per request and never collide
// between two fake providers in one process.
import { randomBytes } from 'node:crypto';

export class Ids {
  private n = 0;
  private readonly tag = randomBytes(4).toString('hex');

  /** `prefix` includes its separator: `chatcmpl-`, `call_`, `msg_01`… */
  next(prefix: string): string {
    return `${prefix}fake${this.tag}${(++this.n).toString(36).padStart(8, '0')}`;
  }
}
