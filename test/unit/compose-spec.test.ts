// The project's compose schema (schemas/compose.json, what dock reads) against the upstream
// Compose Specification schema (../shared/compose-spec/compose-spec.json, read here, never copied):
// every file dock accepts is valid upstream, and files upstream rejects are rejected by dock.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { interpolateTree } from '../../src/engine/compose/interpolate';
import { stripMarkers } from '../../src/engine/compose/merge';
import { validateComposeSchema } from '../../src/engine/compose/generated/validators';
import { parseComposeYaml } from '../../src/engine/compose/yaml';

const UPSTREAM = join(__dirname, '..', '..', '..', 'shared', 'compose-spec', 'compose-spec.json');
const FIX = join(__dirname, '..', 'fixtures', 'compose');
const ENV: Record<string, string> = { GREETING: 'hi', OVERRIDDEN: 'shell', FROM_SHELL: 'x', FROM_DOTENV: 'd' };

function upstreamValidator() {
  const schema = JSON.parse(readFileSync(UPSTREAM, 'utf8'));
  // The upstream file names its meta-schema by an https URL ajv does not bundle: not checked.
  const ajv = new Ajv({ strict: false, validateSchema: false, validateFormats: false, allErrors: true });
  return ajv.compile(schema);
}

/** A compose file as both schemas see it: parsed, interpolated, tags resolved. */
function doc(text: string, name: string): unknown {
  return stripMarkers(interpolateTree(parseComposeYaml(text, name), (n) => ENV[n], ''));
}

const composeFiles = (): string[] =>
  readdirSync(FIX).flatMap((d) => {
    const dir = join(FIX, d);
    if (!statSync(dir).isDirectory()) return [];
    return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));
  });

const ACCEPTED_INLINE: Record<string, string> = {
  'long ports and volumes': 'services:\n  a:\n    image: x\n    ports: [{target: 80, published: "8080", protocol: udp, mode: host, host_ip: 127.0.0.1}]\n    volumes: [{type: tmpfs, target: /t, tmpfs: {size: 1000, mode: 1777}}, {type: bind, source: ., target: /s, bind: {propagation: rshared, create_host_path: false}}]\n',
  'depends_on with everything': 'services:\n  a: {image: x, depends_on: {b: {condition: service_healthy, required: false, restart: true}}}\n  b: {image: x, healthcheck: {test: [CMD, "true"], interval: 1s, timeout: 1s, start_period: 0s, retries: 1}}\n',
  'env_file with required': 'services:\n  a: {image: x, env_file: [{path: ./x.env, required: false}, ./y.env]}\n',
  'build inline': 'services:\n  a: {build: {context: ., dockerfile_inline: "FROM scratch", args: [A=1], labels: [l=1], no_cache: true, network: none}}\n',
  'extensions': 'x-top: 1\nservices:\n  a: {image: x, x-mine: {any: thing}, deploy: {x-d: 1, resources: {limits: {x-l: 1}}}}\nnetworks:\n  n: {x-n: 1}\n',
  'reset tags': 'services:\n  a: {image: x, ports: !reset [], command: !reset null}\n',
  'configs from content': 'services:\n  a: {image: x, configs: [c]}\nconfigs:\n  c: {content: "hello"}\nsecrets:\n  s: {environment: GREETING}\n',
};

const REJECTED_UPSTREAM: Record<string, string> = {
  'unknown top-level key': 'services: {}\nservice: {}\n',
  'unknown service key': 'services:\n  a: {image: x, imagee: y}\n',
  'bad service name': 'services:\n  "a b": {image: x}\n',
  'ports as a mapping': 'services:\n  a: {image: x, ports: {"80": 80}}\n',
  'unknown port key': 'services:\n  a: {image: x, ports: [{target: 80, publish: 8080}]}\n',
  'bad depends_on condition': 'services:\n  a: {image: x, depends_on: {b: {condition: service_ready}}}\n  b: {image: x}\n',
  'volume of an unknown type': 'services:\n  a: {image: x, volumes: [{type: nfs, target: /x}]}\n',
  'volume without type': 'services:\n  a: {image: x, volumes: [{source: a, target: /x}]}\n',
  'environment of lists': 'services:\n  a: {image: x, environment: {A: [1, 2]}}\n',
  'duplicate cap_add': 'services:\n  a: {image: x, cap_add: [NET_ADMIN, NET_ADMIN]}\n',
  'healthcheck test number': 'services:\n  a: {image: x, healthcheck: {test: 5}}\n',
  'ulimit without hard': 'services:\n  a: {image: x, ulimits: {nofile: {soft: 1}}}\n',
  'network with unknown key': 'services:\n  a: {image: x}\nnetworks:\n  n: {drivr: bridge}\n',
  'volume with unknown key': 'services:\n  a: {image: x}\nvolumes:\n  v: {nam: x}\n',
  'command object': 'services:\n  a: {image: x, command: {sh: x}}\n',
  'services a list': 'services: [a, b]\n',
};

describe('schemas/compose.json against the upstream Compose Specification schema', () => {
  const upstream = upstreamValidator();

  it.each([...composeFiles().map((f) => [f.slice(FIX.length + 1), readFileSync(f, 'utf8')]), ...Object.entries(ACCEPTED_INLINE)])('dock accepts %s, and so does upstream', (name, text) => {
    const d = doc(text, name);
    expect(validateComposeSchema(d), JSON.stringify(validateComposeSchema.errors)).toBe(true);
    expect(upstream(d), JSON.stringify(upstream.errors)).toBe(true);
  });

  it.each(Object.entries(REJECTED_UPSTREAM))('upstream rejects %s, and so does dock', (name, text) => {
    const d = doc(text, name);
    expect(upstream(d)).toBe(false);
    expect(validateComposeSchema(d)).toBe(false);
  });

  it('covers every fixture directory', () => {
    expect(composeFiles().length).toBeGreaterThanOrEqual(20);
  });
});
