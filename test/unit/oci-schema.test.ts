// skiff's validation against the upstream OCI runtime-spec v1.3.0 test documents, and what skiff
// writes (`skiff spec`, `skiff features`) against the upstream schemas themselves.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv-draft-04';
import { describe, expect, it } from 'vitest';
import { featuresDocument } from '../../src/oci/features';
import { defaultSpec } from '../../src/oci/spec-default';
import { parseJsonText, validateConfig } from '../../src/oci/validate';
import { SkiffError } from '../../src/runtime/errors';

const UPSTREAM = join(__dirname, '..', '..', '..', 'shared', 'oci-runtime-spec', 'schema');
const CASES = join(UPSTREAM, 'test', 'config');

/** The upstream schemas, as reference data, with defs.json's malformed "#definitions/uint32" fixed in memory. */
function upstreamAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const file of readdirSync(UPSTREAM).filter((f) => f.endsWith('.json'))) {
    let text = readFileSync(join(UPSTREAM, file), 'utf8');
    if (file === 'defs.json') {
      expect(text).toContain('"#definitions/uint32"');
      text = text.replace('"#definitions/uint32"', '"#/definitions/uint32"');
    }
    ajv.addSchema(JSON.parse(text), file);
  }
  return ajv;
}

const upstream = upstreamAjv();

function upstreamErrors(schema: string, doc: unknown): string {
  const validate = upstream.getSchema(schema)!;
  return validate(doc) ? '' : upstream.errorsText(validate.errors);
}

/** Configs of another platform carry its section; skiff is a Linux runtime. */
const NON_LINUX = ['freebsd', 'zos', 'windows', 'solaris', 'vm'];
function isLinuxConfig(text: string): boolean {
  try {
    const doc = JSON.parse(text) as Record<string, unknown>;
    return !NON_LINUX.some((k) => k in doc);
  } catch {
    return true; // not JSON at all: a test of the parser, platform-neutral
  }
}

function read(dir: 'good' | 'bad', file: string): string {
  return readFileSync(join(CASES, dir, file), 'utf8');
}

function refusal(text: string): string {
  try {
    validateConfig(parseJsonText(text, 'config.json'));
  } catch (err) {
    expect(err).toBeInstanceOf(SkiffError);
    expect((err as SkiffError).domain).toBe('config');
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('upstream runtime-spec test configs', () => {
  const good = readdirSync(join(CASES, 'good')).sort();
  const bad = readdirSync(join(CASES, 'bad')).sort();

  it('has the Linux cases this suite expects', () => {
    expect(good.filter((f) => isLinuxConfig(read('good', f)))).toEqual([
      'linux-netdevice.json',
      'linux-rdma.json',
      'minimal-for-start.json',
      'minimal.json',
      'spec-example.json',
    ]);
    expect(bad.filter((f) => isLinuxConfig(read('bad', f)))).toEqual([
      'invalid-json.json',
      'linux-hugepage.json',
      'linux-netdevice.json',
      'linux-rdma.json',
    ]);
  });

  // Skipped: freebsd-*.json and zos-*.json are configs of other platforms (a "freebsd" or "zos"
  // section instead of "linux"); skiff's schemas describe the Linux config only.
  for (const file of good.filter((f) => isLinuxConfig(read('good', f)) && f !== 'spec-example.json')) {
    it(`accepts good/${file}`, () => {
      const doc = parseJsonText(read('good', file), 'config.json');
      expect(validateConfig(doc)).toBe(doc);
    });
  }

  // spec-example.json declares ociVersion "0.5.0-dev", a pre-1.0 draft, which skiff refuses as
  // runtimes must for versions they do not implement. Everything else in it is accepted.
  it('accepts good/spec-example.json apart from its pre-1.0 ociVersion', () => {
    const text = read('good', 'spec-example.json');
    expect(refusal(text)).toBe(
      'invalid config.json: /ociVersion: unsupported version "0.5.0-dev": skiff runs configs of version 1.x (up to 1.3.0)',
    );
    const doc = parseJsonText(text, 'config.json') as { ociVersion: string };
    doc.ociVersion = '1.3.0';
    expect(validateConfig(doc)).toBe(doc);
  });

  // Skipped: bad/freebsd-vnet-disable.json is wrong only in its "freebsd" section, which a Linux
  // runtime ignores.
  const expected: Record<string, string> = {
    'invalid-json.json': "invalid config.json: unexpected token ']' at line 1 column 2",
    'linux-hugepage.json':
      'invalid config.json: /linux/resources/hugepageLimits/0/pageSize: must be a page size like "2MB" (a number, then KB, MB or GB), got "64kB"',
    'linux-netdevice.json': 'invalid config.json: /linux/netDevices/eth0/name: must be a string, got 23',
    'linux-rdma.json': 'invalid config.json: /linux/resources/rdma/mlx5_1/hcaHandles: must be an integer, got "not a uint32"',
  };
  for (const file of bad.filter((f) => isLinuxConfig(read('bad', f)))) {
    it(`refuses bad/${file}`, () => {
      expect(refusal(read('bad', file))).toBe(expected[file]);
    });
  }
});

describe('what skiff writes validates against the upstream schemas', () => {
  it('defaultSpec()', () => {
    for (const cgroupns of [false, true]) {
      const spec = defaultSpec({ cgroupns });
      expect(upstreamErrors('config-schema.json', spec)).toBe('');
      expect(validateConfig(structuredClone(spec), { requireProcess: true })).toEqual(spec);
    }
  });

  it('defaultSpec({ rootless: true })', () => {
    const spec = defaultSpec({ rootless: true });
    expect(upstreamErrors('config-schema.json', spec)).toBe('');
    expect(validateConfig(structuredClone(spec), { requireProcess: true })).toEqual(spec);
  });

  it('featuresDocument(), with defaults and with every option', () => {
    expect(upstreamErrors('features-schema.json', featuresDocument())).toBe('');
    const full = featuresDocument({
      version: '0.1.0',
      commit: 'abc123',
      cgroup: { systemd: true, systemdUser: true, rdma: true },
      seccompArchs: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_RISCV64'],
      seccompSupportedFlags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_TSYNC'],
      apparmor: true,
      selinux: true,
      intelRdt: true,
      netDevices: true,
    });
    expect(upstreamErrors('features-schema.json', full)).toBe('');
  });

  it('the schema really checks: upstream refuses a broken features document and config', () => {
    expect(upstreamErrors('features-schema.json', { ociVersionMin: '1.0.0' })).toContain('ociVersionMax');
    expect(upstreamErrors('config-schema.json', { ...defaultSpec(), ociVersion: 1 })).toContain('/ociVersion');
  });

  it('the harness accepts the upstream features examples (one of them is runc\'s)', () => {
    for (const file of readdirSync(join(UPSTREAM, 'test', 'features', 'good'))) {
      const doc = JSON.parse(readFileSync(join(UPSTREAM, 'test', 'features', 'good', file), 'utf8'));
      expect(upstreamErrors('features-schema.json', doc)).toBe('');
    }
  });
});
