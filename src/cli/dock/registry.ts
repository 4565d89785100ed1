// dock login / logout (docker/cli cli/command/registry). Credentials live in the Docker config.json.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { clientOpts, globals } from './common';

export function register(program: Command): void {
  program
    .command('login')
    .description('Log in to a registry (credentials stored in the Docker config.json)')
    .argument('[server]', 'registry host[:port]', 'docker.io')
    .option('-u, --username <name>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (server: string, o: { username?: string; password?: string; passwordStdin?: boolean }) => {
      const { RegistryClient } = await import('../../engine/registry/client');
      const { storeCredentials, dockerConfigPath } = await import('../../engine/registry/auth');
      const { ImageError } = await import('../../engine/images/errors');
      const domain = registryDomain(server);
      let password = o.password;
      if (o.passwordStdin) {
        if (password) throw new ImageError('EUSAGE', '--password and --password-stdin are mutually exclusive');
        password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      }
      if (!o.username || password === undefined) throw new ImageError('EUSAGE', 'login needs --username and --password or --password-stdin');
      globals();
      const creds = { username: o.username, password };
      await new RegistryClient(domain, { ...clientOpts(), credentials: creds }).login();
      storeCredentials(domain, creds);
      process.stderr.write(`WARNING! Your password will be stored unencrypted in ${dockerConfigPath()}.\n`);
      process.stdout.write('Login Succeeded\n');
    });

  program
    .command('logout')
    .description('Remove the stored credentials of a registry')
    .argument('[server]', 'registry host[:port]', 'docker.io')
    .action(async (server: string) => {
      const { removeCredentials } = await import('../../engine/registry/auth');
      globals();
      const domain = registryDomain(server);
      if (removeCredentials(domain)) process.stdout.write(`Removing login credentials for ${domain}\n`);
      else process.stdout.write(`Not logged in to ${domain}\n`);
    });
}

function registryDomain(server: string): string {
  const s = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return s === 'index.docker.io' || s === 'registry-1.docker.io' ? 'docker.io' : s;
}
