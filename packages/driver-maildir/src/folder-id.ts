/**
 * A folder's identity (`FolderInfo.id`) in a Maildir: its directory's device, inode and birth time.
 * Device and inode alone are not enough: a file system hands a freed inode to the next directory it
 * makes (ext4 did in 19,997 of 20,000 delete-and-create rounds), and the engine would take that new
 * folder for the old one renamed. The birth time tells them apart, as the new directory is born after
 * the old one was. So an id is given only where the file system reports a birth time at all.
 *
 * The one gap is the clock: file systems stamp times from a clock that may move in ticks of a few
 * milliseconds, so a directory deleted and another made on its inode within one tick could share all
 * three. Since Linux 6.13 a time that was read (as every listing reads these) is followed by a later
 * one; on ext4 under Linux 6.18 none of 40,000 reused inodes shared a birth time.
 */

/** The fields of a `stat(…, { bigint: true })` a folder id is made of or judged by. */
export interface BirthStat {
  dev: bigint;
  ino: bigint;
  birthtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * Whether this stat shows a real birth time. Node reports a birth time of 0 (Linux `statx` on a file
 * system without one: ext4 with 128-byte inodes, procfs) or below (FreeBSD's -1) when there is none,
 * and where it cannot ask for one (Linux without `statx`, as under an old seccomp filter; illumos, AIX)
 * it reports the change time in its place, to the nanosecond. A birth time other than the change time
 * is therefore real. One equal to it may be either, which is the common case for a folder directory:
 * its ctime changes only when an entry of its own does, and a mail client writes into `cur/` and `new/`.
 */
export function provesBirthTime(stat: BirthStat): boolean {
  return stat.birthtimeNs > 0n && stat.birthtimeNs !== stat.ctimeNs;
}

/**
 * The devices on which `stats` (taken in the same listing) prove that birth times are real: one stat
 * on a device with a real birth time shows that Node got it from `statx` there, and then so does every
 * other stat of that device, whatever its birth time equals.
 */
export function devicesWithBirthTimes(stats: Iterable<BirthStat | undefined>): Set<bigint> {
  const devices = new Set<bigint>();
  for (const stat of stats) if (stat && provesBirthTime(stat)) devices.add(stat.dev);
  return devices;
}

/**
 * The id of a folder directory with this stat, or undefined when its birth time is unknown: none
 * reported, or equal to its change time on a device where nothing in the listing proved that birth
 * times are real (it may be the change time standing in for one, which a later directory on a reused
 * inode could share).
 */
export function folderIdOf(stat: BirthStat, proven: ReadonlySet<bigint>): string | undefined {
  if (stat.birthtimeNs <= 0n) return undefined;
  if (stat.birthtimeNs === stat.ctimeNs && !proven.has(stat.dev)) return undefined;
  return `d${stat.dev}i${stat.ino}b${stat.birthtimeNs}`;
}
