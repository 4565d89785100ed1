// dock compose's loader without containers: interpolation, file discovery, merging, profiles,
// project names, the schema's error paths and the model's checks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { interpolateString } from '../../src/engine/compose/interpolate';
import { loadProject, type LoadOptions } from '../../src/engine/compose/loader';
import { startOrder } from '../../src/engine/compose/graph';

describe('interpolation', () => {
  const env: Record<string, string> = { SET: 'v', EMPTY: '' };
  const i = (s: string) => interpolateString(s, (n) => env[n], 'x');
  it.each([
    ['$SET', 'v'],
    ['${SET}', 'v'],
    ['a${SET}b$SET.c', 'avbv.c'],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['$$SET', '$SET'],
    ['$$$SET', '$v'],
    ['${UNSET:-${SET}}', 'v'],
    ['${UNSET:-${NOPE:-deep}}', 'deep'],
    ['${SET:?never}', 'v'],
    ['${EMPTY?fine}', ''],
    ['cost: 5$', 'cost: 5$'],
    ['$UNSET', ''],
  ])('%s -> %s', (input, want) => expect(i(input)).toBe(want));

  it.each([
    ['${UNSET:?need it}', 'x: required variable UNSET is missing a value: need it'],
    ['${EMPTY:?}', 'x: required variable EMPTY is missing a value'],
    ['${UNSET?gone}', 'x: required variable UNSET is missing a value: gone'],
    ['${SET', 'x: invalid interpolation format in "${SET": you may need to escape any $ with another $'],
    ['${}', 'x: invalid interpolation format in "${}": you may need to escape any $ with another $'],
    ['${SET!x}', 'x: invalid interpolation format in "${SET!x}": you may need to escape any $ with another $'],
  ])('%s fails: %s', (input, msg) => expect(() => i(input)).toThrow(msg));
});

describe('loading projects', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'compose-load-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  };
  const load = (o: LoadOptions = {}) => loadProject({ cwd: dir, env: {}, ...o });

  it('finds compose.yaml in a parent directory, with its override file, and names the project after the directory', () => {
    write('compose.yaml', 'services:\n  web:\n    image: busybox\n    environment: [A=1]\n');
    write('compose.override.yaml', 'services:\n  web:\n    environment: {B: "2"}\n');
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    const { project, source } = load({ cwd: join(dir, 'sub', 'deeper') });
    expect(source.configFiles).toEqual([join(dir, 'compose.yaml'), join(dir, 'compose.override.yaml')]);
    expect(source.workingDir).toBe(dir);
    expect(project.services.web.environment).toEqual({ A: '1', B: '2' });
    expect(project.name).toMatch(/^compose-load-/);
    expect(project.networks.default.name).toBe(`${project.name}_default`);
  });

  it("takes build.network (the RUN steps' network, as dock build --network)", () => {
    write('compose.yaml', 'services:\n  app:\n    build: {context: ., network: host}\n  other:\n    build: .\n');
    const { project } = load();
    expect(project.services.app.build).toMatchObject({ context: dir, network: 'host' });
    expect(project.services.other.build?.network).toBeUndefined();
  });

  it('merges -f files by the specification rules', () => {
    write('a.yml', `
services:
  web:
    image: busybox
    command: [sleep, "1"]
    ports: ["80:80"]
    volumes: [/a:/data, /b:/b]
    labels: [x=1]
    depends_on: [db]
    dns: 1.1.1.1
  db: {image: busybox}
`);
    write('b.yml', `
services:
  web:
    command: sleep 2
    ports: ["80:80", "81:81"]
    volumes: [/c:/data]
    labels: {y: "2"}
    depends_on:
      db: {condition: service_healthy}
    dns: [8.8.8.8]
    healthcheck: {test: "true"}
  db:
    healthcheck: {test: [CMD, "true"]}
`);
    const { project } = load({ files: ['a.yml', 'b.yml'] });
    const web = project.services.web;
    expect(web.command).toEqual(['sleep', '2']);
    expect(web.ports!.map((p) => p.target)).toEqual([80, 81]);
    expect(web.volumes!.map((v) => `${v.source}:${v.target}`)).toEqual(['/c:/data', '/b:/b']);
    expect(web.labels).toEqual({ x: '1', y: '2' });
    expect(web.depends_on!.db.condition).toBe('service_healthy');
    expect(web.dns).toEqual(['1.1.1.1', '8.8.8.8']);
  });

  it('honours !reset and !override, anchors and merge keys', () => {
    write('a.yml', `
x-common: &common
  image: busybox
  environment: {A: "1", B: "2"}
services:
  web:
    <<: *common
    ports: ["80:80"]
`);
    write('b.yml', `
services:
  web:
    ports: !reset []
    environment: !override {C: "3"}
`);
    const { project } = load({ files: ['a.yml', 'b.yml'] });
    expect(project.services.web.ports).toBeUndefined();
    expect(project.services.web.environment).toEqual({ C: '3' });
    expect(project.services.web.image).toBe('busybox');
  });

  it('reads .env, lets the shell win, and takes the project name from -p, COMPOSE_PROJECT_NAME, name:', () => {
    write('compose.yaml', 'name: fromfile\nservices:\n  web:\n    image: "busybox:${TAG}"\n    environment: [FROM_SHELL]\n');
    write('.env', 'TAG=dotenv\nexport OTHER="quoted # not a comment"\n');
    expect(load().project.services.web.image).toBe('busybox:dotenv');
    expect(load().project.name).toBe('fromfile');
    expect(load({ env: { TAG: 'shell', FROM_SHELL: 'yes', COMPOSE_PROJECT_NAME: 'envname' } }).project).toMatchObject({ name: 'envname', services: { web: { image: 'busybox:shell', environment: { FROM_SHELL: 'yes' } } } });
    expect(load({ projectName: 'flag' }).project.name).toBe('flag');
    expect(() => load({ projectName: 'Bad Name' })).toThrow('invalid project name "Bad Name" (-p)');
    write('other.env', 'TAG=other\n');
    expect(load({ envFiles: ['other.env'] }).project.services.web.image).toBe('busybox:other');
  });

  it('leaves out services of inactive profiles unless named or enabled', () => {
    write('compose.yaml', 'services:\n  web: {image: busybox}\n  debug: {image: busybox, profiles: [dev]}\n  tool: {image: busybox, profiles: [ops], depends_on: [debug]}\n');
    expect(Object.keys(load().project.services)).toEqual(['web']);
    expect(Object.keys(load({ profiles: ['dev'] }).project.services)).toEqual(['web', 'debug']);
    expect(Object.keys(load({ env: { COMPOSE_PROFILES: 'dev,ops' } }).project.services)).toEqual(['web', 'debug', 'tool']);
    expect(() => load({ profiles: ['ops'] })).toThrow('service "tool" depends on service debug is not enabled by the active profiles');
  });

  it('orders services by depends_on and refuses cycles and unknown services', () => {
    write('compose.yaml', 'services:\n  web: {image: b, depends_on: [api]}\n  api: {image: b, depends_on: {db: {condition: service_healthy}}}\n  db: {image: b}\n');
    const { project } = load();
    expect(startOrder(project, ['web'])).toEqual(['db', 'api', 'web']);
    expect(startOrder(project, ['web'], { noDeps: true })).toEqual(['web']);
    write('compose.yaml', 'services:\n  a: {image: b, depends_on: [b]}\n  b: {image: b, depends_on: [c]}\n  c: {image: b, depends_on: [a]}\n');
    expect(() => load()).toThrow('dependency cycle between services: a -> b -> c -> a');
    write('compose.yaml', 'services:\n  a: {image: b, depends_on: [nope]}\n');
    expect(() => load()).toThrow('services.a.depends_on: service "a" depends on undefined service nope');
  });

  it.each([
    ['services:\n  web:\n    image: [busybox\n', /compose.yaml:4:1: yaml: /],
    ['services:\n  web: {image: a}\n---\nservices: {}\n', /compose.yaml:3: yaml: a compose file holds one document, this one has 2/],
    ['services:\n  web: {image: a, image: b}\n', /compose.yaml:2:19: yaml: Map keys must be unique/],
    ['services:\n  web:\n    image: busybox\n    ports: [{target: 80, published: 8080, protocl: tcp}]\n', /compose.yaml: services.web.ports\[0\].protocl: unsupported key/],
    ['services:\n  web:\n    image: busybox\n    gpus: all\n', /compose.yaml: services.web.gpus: unsupported key/],
    ['services:\n  web:\n    image: busybox\n    ipc: service:db\n', /services.web.ipc: service "web" depends on undefined service db/],
    ['services:\n  web:\n    image: busybox\n    userns_mode: "private"\n', /services.web.userns_mode/],
    ['services:\n  web:\n    image: busybox\n    blkio_config:\n      device_read_bps: [{path: /dev/sda, rate: fast}]\n', /services.web.blkio_config.device_read_bps\[0\].rate: "fast" is not a size/],
    ['services:\n  web:\n    image: busybox\n    shm_size: lots\n', /services.web.shm_size: "lots" is not a size/],
    ['services:\n  web:\n    image: busybox\n    restart: sometimes\n', /services.web.restart: "sometimes" is not no, always/],
    ['services:\n  web:\n    image: busybox\n    cap_add: 5\n', /compose.yaml: services.web.cap_add: must be array, got 5/],
    ['services:\n  web:\n    image: busybox\n    volumes: [data:/data]\n', /services.web.volumes\[0\]: service "web" refers to undefined volume data/],
    ['services:\n  web:\n    image: "${IMG:?set IMG}"\n', /services.web.image: required variable IMG is missing a value: set IMG/],
    ['services:\n  web:\n    build: .\n    deploy: {replicas: "${N:-x}"}\n', /services.web.deploy.replicas: must be an integer, got "x"/],
    ['services:\n  web: {}\n', /services.web: has neither an image nor a build context/],
    ['servics:\n  web: {image: a}\n', /compose.yaml: servics: unsupported key at the top level/],
    ['services:\n  "we b": {image: a}\n', /services: invalid name "we b"/],
  ])('refuses %j', (text, msg) => {
    write('compose.yaml', text);
    expect(() => load()).toThrow(msg);
  });
});
