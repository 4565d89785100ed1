// Loading a compose project as docker compose does: find the files (compose.yaml, compose.yml,
// docker-compose.yaml, docker-compose.yml in the working directory or a parent, with their
// .override file; or -f, or COMPOSE_FILE), read .env (or --env-file) of the project directory,
// then per file: parse YAML, interpolate from the shell environment and .env (the shell wins),
// validate against schemas/compose.json; merge the files in order; pick the project name
// (-p, COMPOSE_PROJECT_NAME, name:, the directory's name); drop the services of inactive
// profiles; normalize to the model and check references and the dependency graph.

import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ComposeError } from './errors';
import { checkGraph } from './graph';
import { interpolateTree } from './interpolate';
import { mergeFiles, stripMarkers } from './merge';
import type { Project, ProjectSource, Service } from './model';
import { normalizeProject, parseDotenv } from './normalize';
import { validateComposeFile } from './schema';
import { parseComposeYaml } from './yaml';

export interface LoadOptions {
  /** -f, in order; "-" is not supported. */
  files?: string[];
  /** -p */
  projectName?: string;
  /** --project-directory */
  projectDirectory?: string;
  /** --env-file, in order (later ones win). */
  envFiles?: string[];
  /** --profile */
  profiles?: string[];
  /** Services named on the command line: their profiles are enabled (docker compose does so). */
  services?: string[];
  cwd?: string;
  /** The shell environment (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Warnings (unset variables, two default files): docker compose prints them on stderr. */
  onWarning?: (message: string) => void;
}

export interface LoadedProject {
  project: Project;
  source: ProjectSource;
}

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];
const OVERRIDE_FILES = ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yaml', 'docker-compose.override.yml'];

/** The default compose file of `dir` or its nearest parent, and its override file. */
export function findComposeFiles(start: string, warn: (m: string) => void = () => undefined): string[] {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const found = DEFAULT_FILES.filter((f) => isFile(join(dir, f)));
    if (found.length) {
      if (found.length > 1) warn(`found multiple config files with supported names: ${found.map((f) => join(dir, f)).join(', ')}; using ${join(dir, found[0])}`);
      const over = OVERRIDE_FILES.find((f) => isFile(join(dir, f)));
      return [join(dir, found[0]), ...(over ? [join(dir, over)] : [])];
    }
    if (dirname(dir) === dir) break;
  }
  throw new ComposeError('ENOFILE', `no configuration file provided: not found (looked for ${DEFAULT_FILES.join(', ')} in ${resolve(start)} and its parents)`);
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ComposeError('ENOFILE', `cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}

/** Docker compose's rule: lower case, [a-z0-9_-], starting with a letter or digit. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '');
}

export function checkProjectName(name: string, from: string): string {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) throw new ComposeError('EUSAGE', `invalid project name "${name}" (${from}): it must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit`);
  return name;
}

export function loadProject(o: LoadOptions = {}): LoadedProject {
  const cwd = o.cwd ?? process.cwd();
  const shell = o.env ?? process.env;
  const warn = o.onWarning ?? (() => undefined);
  const composeFileEnv = shell.COMPOSE_FILE?.split(':').filter(Boolean);
  const files = o.files?.length ? o.files.map((f) => resolve(cwd, f)) : composeFileEnv?.length ? composeFileEnv.map((f) => resolve(cwd, f)) : findComposeFiles(cwd, warn);
  for (const f of files) if (f === resolve(cwd, '-')) throw new ComposeError('EUSAGE', 'reading a compose file from standard input (-f -) is not supported');
  const workingDir = o.projectDirectory ? resolve(cwd, o.projectDirectory) : dirname(files[0]);

  // .env of the project directory (or --env-file), then the shell's environment over it.
  const dotenv: Record<string, string> = {};
  const envFiles = o.envFiles?.length ? o.envFiles.map((f) => resolve(cwd, f)) : [join(workingDir, '.env')].filter(isFile);
  for (const f of envFiles) Object.assign(dotenv, parseDotenv(readText(f, 'env file')));
  const env: Record<string, string> = { ...dotenv };
  for (const [k, v] of Object.entries(shell)) if (v !== undefined) env[k] = v;
  const lookup = (n: string) => env[n];
  const unset = new Set<string>();
  const onUnset = (n: string) => {
    if (unset.has(n)) return;
    unset.add(n);
    warn(`the "${n}" variable is not set: defaulting to a blank string`);
  };

  let merged: Record<string, unknown> = {};
  for (const file of files) {
    const parsed = parseComposeYaml(readText(file, 'compose file'), file);
    const interpolated = interpolateTree(parsed, lookup, '', { onUnset }) as Record<string, unknown>;
    validateComposeFile(stripMarkers(interpolated), file);
    merged = mergeFiles(merged, interpolated);
  }
  const tree = stripMarkers(merged) as Record<string, unknown>;

  const projectName = o.projectName !== undefined
    ? checkProjectName(o.projectName, '-p')
    : env.COMPOSE_PROJECT_NAME
      ? checkProjectName(env.COMPOSE_PROJECT_NAME, 'COMPOSE_PROJECT_NAME')
      : typeof tree.name === 'string' && tree.name
        ? checkProjectName(tree.name, 'name: in the compose file')
        : checkProjectName(normalizeProjectName(basename(workingDir)) || 'default', `the directory ${workingDir}`);

  const project = normalizeProject(tree, { projectName, workingDir, env });

  // Profiles: a service with profiles runs only when one of them is active, or when named.
  const active = new Set(o.profiles?.length ? o.profiles : (env.COMPOSE_PROFILES ?? '').split(',').map((p) => p.trim()).filter(Boolean));
  const named = new Set(o.services ?? []);
  const disabled: Record<string, Service> = {};
  if (!active.has('*')) {
    for (const [name, s] of Object.entries(project.services)) {
      if (!s.profiles?.length || named.has(name) || s.profiles.some((p) => active.has(p))) continue;
      disabled[name] = s;
      delete project.services[name];
    }
  }
  checkGraph(project, disabled);
  pruneUnused(project);
  return { project, source: { workingDir, configFiles: files, disabled, environment: env } };
}

/** The implicit default network goes when only disabled services used it. */
function pruneUnused(p: Project): void {
  const used = Object.values(p.services).some((s) => s.networks && 'default' in s.networks);
  if (!used && p.networks.default && p.networks.default.name === `${p.name}_default` && !p.networks.default.driver && !p.networks.default.ipam) delete p.networks.default;
}

