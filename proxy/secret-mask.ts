// Masks the provider keys of the config wherever a provider's answer could echo one back (a gateway
// that prints the key it rejected, a debug echo endpoint): response headers, JSON answers the
// sidecar holds anyway, and pass-through bodies. Whatever reads the answer afterwards (the app, the
// cache, spans, ClickHouse rows, logs) only ever sees the masked bytes.
//
// A match is replaced by as many `*` as it has bytes, so lengths and HTTP framing never change
// (`content-length` stays true, a pass-through stays byte-for-byte apart from the key).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Keys shorter than this are not searched for: they would mask ordinary words (config test keys are longer). */
export const MIN_MASKED_LENGTH = 8;
const STAR = 0x2a;

export class SecretMasker {
  private readonly secrets: Buffer[];
  private readonly strings: string[];

  constructor(secrets: Iterable<string | undefined>) {
    const unique = new Set<string>();
    for (const s of secrets) if (s !== undefined && s.length >= MIN_MASKED_LENGTH) unique.add(s);
    this.strings = [...unique];
    this.secrets = this.strings.map((s) => Buffer.from(s, 'utf8'));
  }

  get active(): boolean {
    return this.secrets.length > 0;
  }

  /** The buffer with every secret masked: the same buffer when none occurs (the common case costs one search per key). */
  maskBuffer(buf: Buffer): Buffer {
    let out = buf;
    for (const s of this.secrets) {
      let i = out.indexOf(s);
      if (i === -1) continue;
      if (out === buf) out = Buffer.from(buf);
      for (; i !== -1; i = out.indexOf(s, i + s.length)) out.fill(STAR, i, i + s.length);
    }
    return out;
  }

  maskString(value: string): string {
    let out = value;
    for (const s of this.strings) if (out.includes(s)) out = out.split(s).join('*'.repeat(Buffer.byteLength(s)));
    return out;
  }

  /** Masks header values in place (provider response headers on their way to the app). */
  maskHeaders<H extends IncomingHttpHeaders | OutgoingHttpHeaders>(headers: H): H {
    const h = headers as Record<string, string | string[] | number | undefined>;
    for (const name in h) {
      const v = h[name];
      if (typeof v === 'string') h[name] = this.maskString(v);
      else if (Array.isArray(v)) h[name] = v.map((x) => this.maskString(x));
    }
    return headers;
  }

  /**
   * A masker for a body that arrives in chunks: a key split across two chunks is still found. Only
   * bytes that could be the start of a key are held back until the next chunk (usually none).
   */
  stream(): { push(chunk: Buffer): Buffer; end(): Buffer } {
    let carry: Buffer | undefined;
    return {
      push: (chunk) => {
        const buf = this.maskBuffer(carry ? Buffer.concat([carry, chunk]) : chunk);
        const hold = this.heldSuffix(buf);
        carry = hold > 0 ? Buffer.from(buf.subarray(buf.length - hold)) : undefined;
        return hold > 0 ? buf.subarray(0, buf.length - hold) : buf;
      },
      end: () => {
        const rest = carry ?? Buffer.alloc(0);
        carry = undefined;
        return rest;
      },
    };
  }

  /** Length of the longest suffix of buf that is a proper prefix of a secret. */
  private heldSuffix(buf: Buffer): number {
    let hold = 0;
    for (const s of this.secrets) {
      const first = s[0] as number;
      for (let j = buf.indexOf(first, Math.max(0, buf.length - (s.length - 1))); j !== -1; j = buf.indexOf(first, j + 1)) {
        const k = buf.length - j;
        if (k > hold && buf.subarray(j).equals(s.subarray(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return hold;
  }
}
