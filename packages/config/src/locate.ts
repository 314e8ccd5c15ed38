/**
 * Finds the line of a key in TOML text, for error messages: smol-toml gives positions for syntax
 * errors only, and a schema error must name its line too. Best effort and small on purpose: table
 * headers, dotted and quoted keys and inline tables on one line; it returns the line of the longest
 * prefix of `path` it finds, or undefined.
 */
export function lineOfKey(text: string, path: readonly (string | number)[]): number | undefined {
  const lines = text.split(/\r?\n/);
  let table: string[] = [];
  let best: { line: number; depth: number } | undefined;
  const consider = (keys: string[], line: number) => {
    let depth = 0;
    while (depth < keys.length && depth < path.length && keys[depth] === String(path[depth])) depth++;
    if (depth === keys.length || depth === path.length) {
      if (!best || depth > best.depth) best = { line, depth };
    }
  };
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?/.exec(line);
    if (header) {
      table = splitKey(header[1]!);
      consider(table, i + 1);
      return;
    }
    const assignment = /^((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.\- ]+?)+)\s*=\s*(.*)$/.exec(line);
    if (!assignment) return;
    const keys = [...table, ...splitKey(assignment[1]!)];
    consider(keys, i + 1);
    // An inline table on the line: `work = { port = 1 }` holds its keys on the same line.
    const inline = assignment[2]!;
    if (inline.startsWith('{')) {
      for (const m of inline.matchAll(/([A-Za-z0-9_-]+|"[^"]*")\s*=/g))
        consider([...keys, unquote(m[1]!)], i + 1);
    }
  });
  return best?.line;
}

function unquote(key: string): string {
  return /^(["']).*\1$/.test(key) ? key.slice(1, -1) : key;
}

/** Splits `a."b.c".d` into its keys. */
function splitKey(key: string): string[] {
  const keys: string[] = [];
  for (const m of key.matchAll(/"([^"]*)"|'([^']*)'|([^.\s"']+)/g)) keys.push(m[1] ?? m[2] ?? m[3]!);
  return keys;
}
