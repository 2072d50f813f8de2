import { closeSync, openSync } from 'node:fs'

/** File descriptors to make room for at start: a burst of connections at several times capacity. */
export const PREGROWN_FDS = 4096

/**
 * Grows this process's file-descriptor table once, at start, by opening /dev/null up to `count`
 * times and closing them all. Linux grows the table by doubling as descriptors are allocated, and
 * in a multi-threaded process (Node has threads) each growth waits for an RCU grace period inside
 * accept(): the fault suite measured 10–250 ms event-loop stalls when a burst opened hundreds of
 * connections, so answers already in flight came out late. A table never shrinks, so paying this at
 * start (a few ms) takes it off the request path. Stops quietly at the process's descriptor limit.
 * Returns how many were opened.
 */
export function growFdTable(count = PREGROWN_FDS): number {
  const fds: number[] = []
  try {
    for (let i = 0; i < count; i++) fds.push(openSync('/dev/null', 'r'))
  } catch {
    // EMFILE/ENFILE: the limit is lower than asked; the table has grown as far as it may.
  } finally {
    for (const fd of fds) closeSync(fd)
  }
  return fds.length
}
