/** True for a string that can be an IMAP UID (1..4294967295, no sign, no leading zero). */
export function isUid(id: string): boolean {
  return /^[1-9]\d{0,9}$/.test(id) && Number(id) <= 0xffffffff;
}

/**
 * A compact UID set for a command line: sorted, consecutive runs as ranges (`1:5,8,10:12`), so a
 * request for thousands of mostly consecutive messages stays a short line and one round trip.
 */
export function uidSet(ids: Iterable<string | number>): string {
  const sorted = [...new Set([...ids].map(Number))].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i]!;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}
