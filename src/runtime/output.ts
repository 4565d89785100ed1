// Where skiff's own output goes: fds 1 and 2 of the process, or the caller's stdout and stderr
// (received fds) while the warm server serves one of its calls (src/cli/server.ts). Every line the
// CLI and the runtime print is written to these, never to 1 and 2 directly. A dock call the server
// runs (src/cli/dock-serve.ts) sets all three to the caller's, for what dock hands on by fd.
export const output = { in: 0, out: 1, err: 2 };
