/**
 * The bytes of an empty qcow2 v3 overlay, as `qemu-img create -f qcow2 -F FMT -b BACKING` makes
 * one (64 KiB clusters: header, refcount table, refcount block, L1 table; no cluster allocated),
 * for the fake machine's qemu-img: the probe's qcow2 reader then reads the guest's disk through it
 * from the backing file, exactly as it reads a real overlay.
 */
const CLUSTER = 65536;

export function qcow2OverlayBytes(virtualSize: number, backing: string, backingFormat: string): Uint8Array {
  const bytes = new Uint8Array(CLUSTER * 4);
  const view = new DataView(bytes.buffer);
  const u64 = (at: number, value: number) => view.setBigUint64(at, BigInt(value));
  const text = new TextEncoder();
  const format = text.encode(backingFormat);
  const name = text.encode(backing);
  const headerLength = 104;
  const extensions = 8 + Math.ceil(format.length / 8) * 8 + 8;
  const nameOffset = headerLength + extensions;
  view.setUint32(0, 0x514649fb); // QFI\xfb
  view.setUint32(4, 3);
  u64(8, nameOffset);
  view.setUint32(16, name.length);
  view.setUint32(20, 16); // 64 KiB clusters
  u64(24, virtualSize);
  view.setUint32(36, Math.max(1, Math.ceil(virtualSize / (CLUSTER * (CLUSTER / 8)))));
  u64(40, CLUSTER * 3); // L1 table
  u64(48, CLUSTER); // refcount table
  view.setUint32(56, 1);
  view.setUint32(96, 4); // 16-bit refcounts
  view.setUint32(100, headerLength);
  view.setUint32(headerLength, 0xe2792aca); // backing format extension
  view.setUint32(headerLength + 4, format.length);
  bytes.set(format, headerLength + 8);
  bytes.set(name, nameOffset);
  u64(CLUSTER, CLUSTER * 2); // the refcount block
  for (let cluster = 0; cluster < 4; cluster++) view.setUint16(CLUSTER * 2 + cluster * 2, 1);
  return bytes;
}
