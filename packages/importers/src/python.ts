/**
 * The few shapes of OfflineIMAP's Python folder lambdas that have a Twinbox equivalent. Anything else
 * is Python that Twinbox cannot run; the caller reports it by name.
 */

/** What a folderfilter keeps: Twinbox folder patterns (mbsync syntax, last match wins). */
export type FolderFilter = { patterns: string[]; names: string[] };

/** Python string literals separated by commas (a list, tuple or set body), or undefined. */
function stringList(body: string): string[] | undefined {
  const out: string[] = [];
  let rest = body.trim();
  while (rest) {
    const m = /^[rRuU]?(['"])((?:\\.|(?!\1).)*)\1\s*(,\s*)?/s.exec(rest);
    if (!m) return undefined;
    const raw = /^[rR]/.test(rest);
    out.push(raw ? m[2]! : m[2]!.replace(/\\(.)/g, '$1'));
    rest = rest.slice(m[0].length);
    if (!m[3] && rest) return undefined;
  }
  return out;
}

function lambda(source: string): { arg: string; body: string } | undefined {
  const flat = source.replace(/\\\n/g, ' ').replace(/\s+/g, ' ').trim();
  const m = /^lambda\s+(\w+)\s*:\s*(.+)$/s.exec(flat);
  return m ? { arg: m[1]!, body: m[2]!.trim() } : undefined;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A regex of alternatives each `^literal$` (one folder) or `^literal` (a prefix), as patterns. */
function regexPatterns(regex: string, anchored: boolean): string[] | undefined {
  const out: string[] = [];
  for (const alt of regex.split('|')) {
    const m = /^(\^?)((?:\\.|[^\\.*+?()[\]{}^$|])*)(\$?)$/.exec(alt);
    if (!m || (!m[1] && !anchored)) return undefined;
    const literal = m[2]!.replace(/\\(.)/g, '$1');
    if (/[*%]/.test(literal) || !literal) return undefined;
    out.push(m[3] ? literal : `${literal}*`);
  }
  return out;
}

/**
 * A folderfilter lambda as folder patterns: `f in [...]`, `f not in [...]`, `f == '…'`, `f != '…'`,
 * `True`, and `[not] re.search/re.match('^A$|^B', f)` with literal alternatives.
 */
export function folderFilter(source: string): FolderFilter | undefined {
  const l = lambda(source);
  if (!l) return undefined;
  const v = esc(l.arg);
  const body = l.body;
  if (body === 'True') return { patterns: ['*'], names: [] };
  let m = new RegExp(`^${v}\\s+(not\\s+)?in\\s*[[({](.*)[\\])}]$`, 's').exec(body);
  if (m) {
    const names = stringList(m[2]!);
    if (!names) return undefined;
    return m[1] ? { patterns: ['*', ...names.map((n) => `!${n}`)], names } : { patterns: names, names };
  }
  m = new RegExp(`^${v}\\s*(==|!=)\\s*(.+)$`, 's').exec(body);
  if (m) {
    const names = stringList(m[2]!);
    if (names?.length !== 1) return undefined;
    return m[1] === '==' ? { patterns: names, names } : { patterns: ['*', `!${names[0]}`], names };
  }
  m = new RegExp(`^(not\\s+)?re\\.(search|match)\\(\\s*[rR]?(['"])(.*?)\\3\\s*,\\s*${v}\\s*\\)$`, 's').exec(
    body,
  );
  if (m) {
    const patterns = regexPatterns(m[4]!, m[2] === 'match');
    if (!patterns) return undefined;
    return m[1] ? { patterns: ['*', ...patterns.map((p) => `!${p}`)], names: [] } : { patterns, names: [] };
  }
  return undefined;
}

/** A nametrans lambda: the identity, or `{'a': 'b', …}.get(f, f)`, as renames. */
export function nameTrans(source: string): Record<string, string> | undefined {
  const l = lambda(source);
  if (!l) return undefined;
  if (l.body === l.arg) return {};
  const v = esc(l.arg);
  const m = new RegExp(`^\\{(.*)\\}\\.get\\(\\s*${v}\\s*,\\s*${v}\\s*\\)$`, 's').exec(l.body);
  if (!m) return undefined;
  const items = stringList(m[1]!.replace(/(['"])\s*:\s*([rRuU]?['"])/g, '$1, $2'));
  if (!items || items.length % 2) return undefined;
  const map: Record<string, string> = {};
  for (let i = 0; i < items.length; i += 2) map[items[i]!] = items[i + 1]!;
  return map;
}
