import { displayFolder, parseFolderKey } from './folders.js';
import type { FolderPlan, SidePlan } from './plan.js';

function side(lines: string[], name: 'left' | 'right', plan: SidePlan) {
  for (const c of plan.copies)
    lines.push(`  copy ${c.from} to the ${name}${c.flags.length ? ` with ${c.flags.join(' ')}` : ''}`);
  for (const f of plan.flags) {
    const parts = [...f.add.map((x) => `+${x}`), ...f.remove.map((x) => `-${x}`)];
    lines.push(`  flags of ${f.id} on the ${name}: ${parts.join(' ')}`);
  }
  for (const d of plan.deletes) lines.push(`  delete ${d.id} on the ${name}`);
  for (const m of plan.moves ?? [])
    lines.push(`  move ${m.pair[name]} from ${displayFolder(parseFolderKey(m.from))} on the ${name}`);
}

/** A plan in words, one line per action: what a dry run prints. */
export function describePlan(plan: FolderPlan): string[] {
  const lines = [`${displayFolder(plan.left)} <-> ${displayFolder(plan.right)}`];
  side(lines, 'left', plan.toLeft);
  side(lines, 'right', plan.toRight);
  for (const f of plan.forget)
    if (f.ids.length) lines.push(`  forget ${f.ids.length} pair(s) (by ${f.side} id)`);
  if (plan.record.length) lines.push(`  pair ${plan.record.length} message(s) found on both sides`);
  for (const c of plan.conflicts) lines.push(`  conflict: ${c.resolution}`);
  return lines;
}
