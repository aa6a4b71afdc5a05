/** The byte readers give what a DataView gives, and 0 for fields that do not fit. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { be16, be32, be64, le16, le32, le64, u8 } from '../src/io/bytes.js';

describe('fixed-width readers', () => {
  it('agree with DataView, and read 0 outside the bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), fc.integer({ min: -3, max: 24 }), (bytes, off) => {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const fits = (n: number) => off >= 0 && off + n <= bytes.length;
        expect(u8(bytes, off)).toBe(fits(1) ? bytes[off] : 0);
        expect(le16(bytes, off)).toBe(fits(2) ? view.getUint16(off, true) : 0);
        expect(be16(bytes, off)).toBe(fits(2) ? view.getUint16(off, false) : 0);
        expect(le32(bytes, off)).toBe(fits(4) ? view.getUint32(off, true) : 0);
        expect(be32(bytes, off)).toBe(fits(4) ? view.getUint32(off, false) : 0);
        expect(le64(bytes, off)).toBe(fits(8) ? view.getBigUint64(off, true) : 0n);
        expect(be64(bytes, off)).toBe(fits(8) ? view.getBigUint64(off, false) : 0n);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the top bit as unsigned', () => {
    const ff = new Uint8Array(8).fill(0xff);
    expect(le32(ff, 0)).toBe(0xffffffff);
    expect(be32(ff, 4)).toBe(0xffffffff);
    expect(le64(ff, 0)).toBe(2n ** 64n - 1n);
  });
});
