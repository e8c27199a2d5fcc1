import { deflateSync } from "node:zlib";

/**
 * Steward's app icons, drawn in code so the package needs no binary files in git: a rounded
 * Zendesk-teal square with a white ring and check mark (a "seal"), as an RGBA PNG of any size.
 */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Distance from point p to the segment a–b, for the check mark's strokes. */
function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const t = Math.max(0, Math.min(1, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)));
  return Math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)));
}

/** One pixel of the icon in unit coordinates (0..1): [r, g, b, a]. */
function pixel(x: number, y: number): [number, number, number, number] {
  const r = 0.18; // corner radius
  const cx = Math.min(Math.max(x, r), 1 - r);
  const cy = Math.min(Math.max(y, r), 1 - r);
  if (Math.hypot(x - cx, y - cy) > r) return [0, 0, 0, 0];
  const d = Math.hypot(x - 0.5, y - 0.5);
  const ring = Math.abs(d - 0.3) < 0.035;
  const check = segmentDistance(x, y, 0.36, 0.5, 0.46, 0.61) < 0.04 || segmentDistance(x, y, 0.46, 0.61, 0.66, 0.39) < 0.04;
  return ring || check ? [255, 255, 255, 255] : [3, 54, 61, 255];
}

export function logoPng(size: number): Buffer {
  const samples = 4; // 4×4 supersampling keeps the edges smooth
  const rows: Buffer[] = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0, then RGBA
    for (let x = 0; x < size; x++) {
      const sum = [0, 0, 0, 0];
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const p = pixel((x + (sx + 0.5) / samples) / size, (y + (sy + 0.5) / samples) / size);
          for (let i = 0; i < 4; i++) sum[i] = (sum[i] as number) + (i < 3 ? (p[i] as number) * (p[3] / 255) : p[3]);
        }
      }
      const alpha = (sum[3] as number) / samples ** 2;
      for (let i = 0; i < 3; i++) row[1 + x * 4 + i] = alpha > 0 ? Math.round((sum[i] as number) / samples ** 2 / (alpha / 255)) : 0;
      row[1 + x * 4 + 3] = Math.round(alpha);
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", deflateSync(Buffer.concat(rows), { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
}
