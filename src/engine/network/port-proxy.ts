// dock-proxy: the userland port proxy of one container (Docker's docker-proxy role), a small
// detached process (built on its own to dist/dock-proxy.js; node builtins only) in the engine's
// host network namespace.
//
//   node dock-proxy.js --map tcp:0.0.0.0:8080:172.18.0.2:80 [--map udp:...] ...
//
// For each mapping it listens on hostIp:hostPort and relays to the container. It serves what the
// DNAT rules cannot: connections to 127.0.0.1 (the kernel does not DNAT loopback traffic to
// another interface), and it holds the host port, so that another process cannot take a port a
// container publishes (and a port already taken fails here, with the kernel's EADDRINUSE). Host
// port 0 means any free port. Once every socket listens it writes "ready <port> <port>..." (the
// bound ports in --map order) on stdout and never writes there again; on failure "error: ...".

import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Mapping {
  proto: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

const UDP_IDLE_MS = 60_000;

function parseMaps(): Mapping[] {
  const out: Mapping[] = [];
  for (let i = 2; i < process.argv.length; i++) {
    if (process.argv[i] !== '--map') continue;
    const [proto, hostIp, hostPort, containerIp, containerPort] = (process.argv[++i] ?? '').split(':');
    if ((proto !== 'tcp' && proto !== 'udp') || !hostIp || !containerIp) {
      process.stdout.write(`error: bad --map ${process.argv[i]}\n`);
      process.exit(2);
    }
    out.push({ proto, hostIp, hostPort: Number(hostPort), containerIp, containerPort: Number(containerPort) });
  }
  return out;
}

function listenTcp(m: Mapping): Promise<number> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer({ allowHalfOpen: true }, (client: Socket) => {
      const upstream = connect({ host: m.containerIp, port: m.containerPort, allowHalfOpen: true });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.end());
      upstream.on('close', () => client.end());
    });
    server.once('error', reject);
    server.listen({ host: m.hostIp, port: m.hostPort, exclusive: true }, () => {
      server.removeListener('error', reject);
      server.on('error', (e) => process.stderr.write(`dock-proxy: ${e.message}\n`));
      resolve((server.address() as { port: number }).port);
    });
  });
}

function listenUdp(m: Mapping): Promise<number> {
  return new Promise((resolve, reject) => {
    const front: UdpSocket = createSocket('udp4');
    const flows = new Map<string, { sock: UdpSocket; timer: NodeJS.Timeout }>();
    front.on('message', (msg: Buffer, from: RemoteInfo) => {
      const key = `${from.address}:${from.port}`;
      let flow = flows.get(key);
      if (!flow) {
        const sock = createSocket('udp4');
        const f = { sock, timer: setTimeout(() => undefined, 0) };
        sock.on('message', (back: Buffer) => front.send(back, from.port, from.address));
        sock.on('error', () => undefined);
        flows.set(key, f);
        flow = f;
      }
      clearTimeout(flow.timer);
      const f = flow;
      flow.timer = setTimeout(() => {
        f.sock.close();
        flows.delete(key);
      }, UDP_IDLE_MS);
      flow.sock.send(msg, m.containerPort, m.containerIp);
    });
    front.once('error', reject);
    front.bind({ address: m.hostIp, port: m.hostPort, exclusive: true }, () => {
      front.removeListener('error', reject);
      front.on('error', (e) => process.stderr.write(`dock-proxy: ${e.message}\n`));
      resolve(front.address().port);
    });
  });
}

async function main(): Promise<void> {
  const maps = parseMaps();
  const ports: number[] = [];
  for (const m of maps) {
    try {
      ports.push(await (m.proto === 'tcp' ? listenTcp(m) : listenUdp(m)));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
      process.stdout.write(`error: cannot listen on ${m.hostIp}:${m.hostPort}/${m.proto}: ${why}\n`);
      process.exit(1);
    }
  }
  process.stdout.write(`ready ${ports.join(' ')}\n`);
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
process.on('SIGHUP', () => undefined);
process.stdout.on('error', () => undefined);
void main();
