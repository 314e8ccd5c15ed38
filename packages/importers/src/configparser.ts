/**
 * A reader for OfflineIMAP's config file, which Python's `configparser` reads. The `ini` package
 * does not fit: it strips `;`/`#` inside values (configparser keeps them: passwords hold them), unquotes
 * values (configparser keeps quotes), and has no continuation lines, which `folderfilter` lambdas
 * spanning several lines use. So this follows configparser's rules itself:
 * - `[section]` headers; `key = value` or `key: value`; keys are case-insensitive (lower-cased).
 * - Lines starting (after blanks) with `#` or `;` are comments; there are no inline comments.
 * - An indented line continues the value above it (joined with a newline).
 * - `%(name)s` is replaced by another key of the same section or of `[DEFAULT]`, `%%` by `%`.
 * - `[DEFAULT]` keys are seen in every section; a repeated section adds to the first.
 */

export interface IniSection {
  name: string;
  line: number;
  /** Own keys (lower case) to raw values, in order. */
  values: Map<string, { value: string; line: number }>;
}

export interface Ini {
  sections: Map<string, IniSection>;
  defaults: Map<string, { value: string; line: number }>;
  problems: string[];
}

export function readIni(text: string): Ini {
  const ini: Ini = { sections: new Map(), defaults: new Map(), problems: [] };
  let current: Map<string, { value: string; line: number }> | undefined;
  let lastKey: string | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const stripped = raw.trim();
    if (stripped === '') {
      lastKey = undefined;
      return;
    }
    if (stripped.startsWith('#') || stripped.startsWith(';')) return;
    if (/^\s/.test(raw) && current && lastKey !== undefined) {
      const entry = current.get(lastKey)!;
      entry.value = entry.value ? `${entry.value}\n${stripped}` : stripped;
      return;
    }
    const header = /^\[(.+)\]\s*$/.exec(raw);
    if (header) {
      const name = header[1]!;
      lastKey = undefined;
      if (name === 'DEFAULT') current = ini.defaults;
      else {
        let section = ini.sections.get(name);
        if (!section) {
          section = { name, line, values: new Map() };
          ini.sections.set(name, section);
        }
        current = section.values;
      }
      return;
    }
    const option = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw);
    if (!option || !current) {
      ini.problems.push(`line ${line}: ${current ? 'not "key = value"' : 'a value before any [section]'}`);
      lastKey = undefined;
      return;
    }
    lastKey = option[1]!.trim().toLowerCase();
    current.set(lastKey, { value: option[2]!.trim(), line });
  });
  return ini;
}

/** A section's value of `key` after interpolation, or undefined when neither it nor [DEFAULT] has it. */
export function getValue(ini: Ini, section: IniSection, key: string, depth = 0): string | undefined {
  const raw = section.values.get(key)?.value ?? ini.defaults.get(key)?.value;
  if (raw === undefined || depth > 10) return raw;
  return raw.replace(/%(%|\(([^)]+)\)s)/g, (whole, _m, name: string | undefined) => {
    if (name === undefined) return '%';
    return getValue(ini, section, name.toLowerCase(), depth + 1) ?? whole;
  });
}

/** configparser's getboolean. */
export function bool(value: string | undefined): boolean | undefined {
  const v = value?.toLowerCase();
  if (v === undefined) return undefined;
  if (['1', 'yes', 'true', 'on'].includes(v)) return true;
  if (['0', 'no', 'false', 'off'].includes(v)) return false;
  return undefined;
}
