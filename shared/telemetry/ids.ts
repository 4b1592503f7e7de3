// Random ids for traces and spans without a crypto call per id: random bytes are drawn from the OS
// in 4 KiB blocks and handed out slice by slice (crypto.randomBytes per id showed up as ~6 % of
// the proxy's CPU in profiles).
import { randomFillSync } from 'node:crypto';

const BLOCK = 4096;
const pool = Buffer.allocUnsafe(BLOCK);
let offset = BLOCK;

export function randomHex(bytes: number): string {
  if (offset + bytes > BLOCK) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}
