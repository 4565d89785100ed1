// A supervisor that is leaving when dock talks to it (its container just stopped): it accepts the
// connection and closes it, or resets it. dock then treats it as gone (quit: false, status: null)
// instead of failing with "unexpected error: EPIPE" (seen once in compose down under load).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { quitSupervisor, supervisorStatus } from '../../src/engine/containers/supervisor';
import { until } from '../helpers';

/** A fake ctl.sock in another process: accepts each connection and closes it (reset: RST). */
function leavingSupervisor(dir: string, reset: boolean) {
  const code = `
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept()
    if ${reset ? 'True' : 'False'}:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()
`;
  return spawn('python3', ['-c', code, join(dir, 'ctl.sock')], { stdio: 'ignore' });
}

describe('a supervisor that leaves during a request', () => {
  const dirs: string[] = [];
  const procs: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const p of procs.splice(0)) p.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  for (const reset of [false, true]) {
    it(`is treated as gone when it ${reset ? 'resets' : 'closes'} the connection`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dock-sup-'));
      dirs.push(dir);
      procs.push(leavingSupervisor(dir, reset));
      await until(() => existsSync(join(dir, 'ctl.sock')), 'the fake supervisor to listen', 10_000);
      expect(quitSupervisor(dir)).toBe(false);
      expect(supervisorStatus(dir)).toBe(null);
    });
  }
});
