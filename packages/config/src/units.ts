// The values of `max-size` and `max-age`, once the schema has validated them. Apart from schema.ts so
// that what reads them does not load zod (see load.ts).

/** Bytes from a `max-size` value: a number, or text like "10MB" (powers of 1024, as mbsync reads them). */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)!;
  const unit = m[2]!.toLowerCase()[0];
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * factor);
}

const DAY_MS = 86_400_000;

/** Milliseconds from a `max-age` value: a number of days, or text like "90d", "12w", "1y" (365 days). */
export function parseAge(value: number | string): number {
  if (typeof value === 'number') return value * DAY_MS;
  const m = /^\s*(\d+)\s*([dwy])\s*$/i.exec(value)!;
  const unit = m[2]!.toLowerCase();
  return Number(m[1]) * (unit === 'w' ? 7 : unit === 'y' ? 365 : 1) * DAY_MS;
}
