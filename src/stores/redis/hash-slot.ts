/**
 * Redis Cluster's key → slot mapping (cluster spec, "Keys distribution model"): CRC16-XMODEM
 * of the key, or of its hash tag (the text between the first "{" and the next "}" when that is
 * non-empty), modulo 16384. Used to group a batch so every EVALSHA touches one slot.
 */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

const encoder = new TextEncoder();

/** The cluster slot (0..16383) of `key`, computed over its UTF-8 bytes. */
export function hashSlot(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code >= 0x80) return crcBytes(encoder.encode(key)) & 0x3fff;
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ code) & 0xff]!;
  }
  return crc & 0x3fff;
}

function crcBytes(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}
