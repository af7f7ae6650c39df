import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'

// Generates the committed media fixtures once: `npx tsx mocks/media/fixtures-gen.ts`.
// The binaries are committed so seeding never depends on an encoder version.

export const FIXTURES_DIR = fileURLToPath(new URL('../../fixtures/', import.meta.url))

/** A width x height RGB gradient (deterministic pixels). */
function gradient(width: number, height: number, tint: (x: number, y: number) => [number, number, number]) {
  const pixels = Buffer.alloc(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = tint(x / (width - 1), y / (height - 1))
      pixels.set([Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)], (y * width + x) * 3)
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
}

/** A one-page PDF with a line of text and a correct cross-reference table. */
export function minimalPdf(text: string): Buffer {
  const content = `BT /F1 24 Tf 72 720 Td (${text.replace(/[()\\]/g, '\\$&')}) Tj ET`
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ]
  let out = '%PDF-1.4\n'
  const offsets: number[] = []
  objects.forEach((body, i) => {
    offsets.push(out.length)
    out += `${i + 1} 0 obj\n${body}\nendobj\n`
  })
  const xref = out.length
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return Buffer.from(out, 'latin1')
}

export async function generateMediaFixtures(dir = join(FIXTURES_DIR, 'media')): Promise<void> {
  mkdirSync(dir, { recursive: true })
  const sunset = await gradient(640, 480, (x, y) => [1 - 0.3 * y, 0.35 + 0.4 * x * (1 - y), 0.2 + 0.6 * y])
    .png({ compressionLevel: 9 })
    .toBuffer()
  writeFileSync(join(dir, 'sunset.png'), sunset)
  const garden = await gradient(320, 240, (x, y) => [0.2 + 0.3 * x, 0.5 + 0.4 * (1 - y), 0.2])
    .webp({ quality: 80 })
    .toBuffer()
  writeFileSync(join(dir, 'garden.webp'), garden)
  writeFileSync(join(dir, 'family-budget.pdf'), minimalPdf('Family budget 2026'))
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await generateMediaFixtures()
}
