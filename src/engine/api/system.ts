// /_ping, /version, /info, /system/df, /auth: the engine describing itself (src/engine/system).

import { engineDiskUsage, engineInfo, engineVersion, API_VERSION } from '../system/info';
import { badRequest } from './errors';
import { type Ctx, readJson, type Router, sendJson } from './router';

/** Headers every answer of /_ping carries: clients negotiate their version from API-Version. */
function pingHeaders(): Record<string, string> {
  return { 'API-Version': API_VERSION, 'Docker-Experimental': 'false', OSType: 'linux', 'Builder-Version': '1', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' };
}

export function registerSystem(r: Router): void {
  const ping = async (ctx: Ctx) => {
    ctx.res!.writeHead(200, { ...pingHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': ctx.req.method === 'HEAD' ? '0' : '2' });
    ctx.res!.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  };
  r.add('GET', '/_ping', ping);
  r.add('HEAD', '/_ping', ping);
  r.add('GET', '/version', async (ctx) => sendJson(ctx, 200, engineVersion()));
  r.add('GET', '/info', async (ctx) => sendJson(ctx, 200, engineInfo(ctx.engine)));
  r.add('GET', '/system/df', async (ctx) => sendJson(ctx, 200, await engineDiskUsage(ctx.engine)));
  r.add('POST', '/auth', async (ctx) => {
    const body = await readJson<{ username?: string; password?: string; serveraddress?: string }>(ctx);
    if (!body.username || typeof body.password !== 'string') throw badRequest('username and password are required');
    const { RegistryClient } = await import('../registry/client');
    const server = (body.serveraddress || 'docker.io').replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    const domain = server === 'index.docker.io' || server === 'registry-1.docker.io' ? 'docker.io' : server;
    await new RegistryClient(domain, { credentials: { username: body.username, password: body.password } }).login();
    sendJson(ctx, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });
}
