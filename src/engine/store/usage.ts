// Disk usage as docker reports it (volume sizes, writable layers, what a prune gives back).

import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Bytes of the files under `path`, as docker counts a volume's or a writable layer's size: file
 * sizes only (not the directories'), a hard-linked file once.
 */
export function filesSize(path: string): number {
  let total = 0;
  const seen = new Set<string>();
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return; // gone, or not a directory
    }
    for (const n of names) {
      try {
        const st = lstatSync(join(d, n));
        if (st.isDirectory()) walk(join(d, n));
        else if (st.nlink < 2 || !seen.has(`${st.dev}:${st.ino}`)) {
          if (st.nlink > 1) seen.add(`${st.dev}:${st.ino}`);
          total += st.size;
        }
      } catch {
        /* raced with a removal */
      }
    }
  };
  walk(path);
  return total;
}
