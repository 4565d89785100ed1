// dock-dns: the DNS server of one user-defined network, a small detached process (built on its own
// to dist/dock-dns.js; node builtins only) that listens on the bridge address, UDP and TCP port 53.
//
//   node dock-dns.js --listen 172.18.0.1 --records <root>/network/<id>/records.json \
//                    --resolv /etc/resolv.conf [--port 53]
//
// It answers A (and PTR) queries for the names in the records file — container names, short ids,
// hostnames and --network-alias names, written by the engine on every connect/disconnect — and
// forwards every other query, unchanged, to the nameservers of the host's resolv.conf (the engine's
// host network namespace, where this process runs, so loopback resolvers work too). Known names
// asked for another type (AAAA...) get an empty NOERROR, so that clients do not wait on a forward.
// Once both sockets listen it writes "ready" on stdout and never writes there again.

import { createSocket, type RemoteInfo } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { readFileSync, statSync } from 'node:fs';

interface Records {
  /** lower-case name -> addresses */
  names: Record<string, string[]>;
  /** address -> name (PTR) */
  ptr: Record<string, string>;
}

const TYPE_A = 1;
const TYPE_PTR = 12;
const TTL = 600;
const FORWARD_TIMEOUT_MS = 3000;

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) {
    if (def !== undefined) return def;
    process.stderr.write(`dock-dns: missing --${name}\n`);
    process.exit(2);
  }
  return process.argv[i + 1];
}

const listen = arg('listen');
const port = Number(arg('port', '53'));
const recordsPath = arg('records');
const resolvPath = arg('resolv', '/etc/resolv.conf');

let records: Records = { names: {}, ptr: {} };
let recordsVersion = '';
function currentRecords(): Records {
  try {
    // Each update renames a new file into place: its inode tells it apart even when two updates
    // fall in the same tick of the coarse clock that file times use.
    const st = statSync(recordsPath);
    const version = `${st.ino}:${st.mtimeMs}:${st.size}`;
    if (version !== recordsVersion) {
      records = JSON.parse(readFileSync(recordsPath, 'utf8')) as Records;
      recordsVersion = version;
    }
  } catch {
    /* keep the last good records: the engine renames a complete file into place */
  }
  return records;
}

let upstreams: string[] = [];
let resolvMtime = -1;
function currentUpstreams(): string[] {
  try {
    const st = statSync(resolvPath);
    if (st.mtimeMs !== resolvMtime) {
      upstreams = readFileSync(resolvPath, 'utf8')
        .split('\n')
        .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
        .filter((x): x is string => !!x && x !== listen && /^[\d.]+$/.test(x));
      resolvMtime = st.mtimeMs;
    }
  } catch {
    upstreams = [];
  }
  return upstreams;
}

interface Question {
  name: string;
  type: number;
  cls: number;
  /** Offset just past the question section. */
  end: number;
}

function parseQuestion(msg: Buffer): Question | null {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null;
  let off = 12;
  const labels: string[] = [];
  for (let guard = 0; guard < 128; guard++) {
    if (off >= msg.length) return null;
    const len = msg[off];
    if (len === 0) {
      off++;
      break;
    }
    if (len & 0xc0) return null; // no compression in a question we accept
    if (off + 1 + len > msg.length) return null;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), cls: msg.readUInt16BE(off + 2), end: off + 4 };
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

/** A reply with the query's id, question and flags, and the given answers (rcode 0 or 3). */
function reply(query: Buffer, q: Question, answers: Buffer[], rcode: number): Buffer {
  const head = Buffer.from(query.subarray(0, q.end));
  const rd = query[2] & 0x01;
  head[2] = 0x80 | 0x04 | rd; // QR, AA, RD copied
  head[3] = 0x80 | rcode; // RA
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answers.length, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  return Buffer.concat([head, ...answers]);
}

function rr(type: number, data: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  h.writeUInt16BE(type, 2);
  h.writeUInt16BE(1, 4); // IN
  h.writeUInt32BE(TTL, 6);
  h.writeUInt16BE(data.length, 10);
  return Buffer.concat([h, data]);
}

/** Our answer, or null when the query is for someone else (forward it). */
function answer(query: Buffer): Buffer | null {
  const q = parseQuestion(query);
  if (!q || q.cls !== 1) return null;
  const r = currentRecords();
  const name = q.name.replace(/\.$/, '');
  const ips = r.names[name];
  if (ips) {
    if (q.type !== TYPE_A) return reply(query, q, [], 0);
    return reply(query, q, ips.map((ip) => rr(TYPE_A, Buffer.from(ip.split('.').map(Number)))), 0);
  }
  if (q.type === TYPE_PTR && name.endsWith('.in-addr.arpa')) {
    const ip = name.slice(0, -'.in-addr.arpa'.length).split('.').reverse().join('.');
    const host = r.ptr[ip];
    if (host) return reply(query, q, [rr(TYPE_PTR, encodeName(host))], 0);
  }
  return null;
}

function servfail(query: Buffer): Buffer {
  const q = parseQuestion(query);
  if (q) return reply(query, q, [], 2);
  const h = Buffer.from(query.subarray(0, Math.min(12, query.length)));
  if (h.length >= 4) {
    h[2] = 0x80;
    h[3] = 0x82;
  }
  return h;
}

/** Forwards over UDP to each upstream in turn; resolves with the first reply (or SERVFAIL). */
function forward(query: Buffer): Promise<Buffer> {
  const servers = currentUpstreams();
  return new Promise((resolve) => {
    let i = 0;
    const next = () => {
      if (i >= servers.length) return resolve(servfail(query));
      const server = servers[i++];
      const s = createSocket('udp4');
      const timer = setTimeout(() => {
        s.close();
        next();
      }, FORWARD_TIMEOUT_MS);
      s.on('message', (m) => {
        if (m.length < 2 || m.readUInt16BE(0) !== query.readUInt16BE(0)) return;
        clearTimeout(timer);
        s.close();
        resolve(m);
      });
      s.on('error', () => {
        clearTimeout(timer);
        s.close();
        next();
      });
      s.send(query, 53, server);
    };
    next();
  });
}

async function handle(query: Buffer): Promise<Buffer> {
  return answer(query) ?? (await forward(query));
}

const udp = createSocket('udp4');
udp.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
  handle(msg).then(
    (r) => udp.send(r, rinfo.port, rinfo.address),
    () => udp.send(servfail(msg), rinfo.port, rinfo.address),
  );
});

const tcp = createServer((c: Socket) => {
  let buf = Buffer.alloc(0);
  c.setTimeout(10_000, () => c.destroy());
  c.on('error', () => c.destroy());
  c.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
      buf = buf.subarray(2 + q.length);
      handle(q).then((r) => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(r.length);
        c.write(Buffer.concat([len, r]));
      });
    }
  });
});

function fail(what: string, err: Error): never {
  process.stdout.write(`error: ${what}: ${err.message}\n`);
  process.exit(1);
}

udp.once('error', (e) => fail(`listen on udp ${listen}:${port}`, e));
udp.bind(port, listen, () => {
  tcp.once('error', (e) => fail(`listen on tcp ${listen}:${port}`, e));
  tcp.listen(port, listen, () => {
    process.stdout.write('ready\n');
    udp.removeAllListeners('error');
    udp.on('error', (e) => process.stderr.write(`dock-dns: ${e.message}\n`));
  });
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
process.on('SIGHUP', () => undefined);
process.stdout.on('error', () => undefined);
