// Manifest formats: OCI image manifest and index, Docker schema2 manifest and manifest list.
// Docker schema1 (signed, v1-compatibility history) is recognised only to be refused clearly.

import { RegistryError } from './errors';
import { parseJsonDocument } from '../../oci/json';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What a pull asks for, best first. */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(', ');

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object>;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    StopSignal?: string;
    [k: string]: unknown;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [k: string]: unknown;
}

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'image'; mediaType: string; manifest: ImageManifest };

const LAYER_TYPES = new Set<string>([
  MT.ociLayer,
  MT.ociLayerGzip,
  MT.ociLayerZstd,
  MT.ociLayerNondistGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  MT.dockerLayerGzip,
  MT.dockerLayerForeign,
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.zstd',
]);

export function isLayerMediaType(mt: string): boolean {
  return LAYER_TYPES.has(mt);
}

/**
 * Parses a manifest body. The media type comes from the Content-Type header when the registry
 * sends a useful one, else from the body's own mediaType field, else from its shape.
 */
export function parseManifest(body: Buffer, contentType: string | undefined, label: string): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = parseJsonDocument(body.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new RegistryError('EMANIFEST', `manifest of ${label} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null) throw new RegistryError('EMANIFEST', `manifest of ${label} is not a JSON object`);
  const ct = (contentType ?? '').split(';')[0].trim();
  let mt = typeof doc.mediaType === 'string' ? doc.mediaType : '';
  if (!mt && ct && ct !== 'application/json' && ct !== 'text/plain') mt = ct;
  if (doc.schemaVersion === 1 || mt === MT.dockerSchema1 || mt === MT.dockerSchema1Signed) {
    throw new RegistryError(
      'EMANIFEST',
      `${label} uses the Docker image manifest v2 schema 1, which was deprecated in 2017 and is not supported: push it again with a current tool (docker, podman, skopeo) to convert it to schema 2 or OCI`,
    );
  }
  if (doc.schemaVersion !== 2) throw new RegistryError('EMANIFEST', `manifest of ${label} has unsupported schemaVersion ${String(doc.schemaVersion)}`);
  if (!mt) mt = Array.isArray(doc.manifests) ? MT.ociIndex : MT.ociManifest;
  if (mt === MT.ociIndex || mt === MT.dockerList) {
    if (!Array.isArray(doc.manifests)) throw new RegistryError('EMANIFEST', `index of ${label} has no manifests list`);
    for (const d of doc.manifests as unknown[]) checkDescriptor(d, label);
    return { kind: 'index', mediaType: mt, index: doc as unknown as ImageIndex };
  }
  if (mt === MT.ociManifest || mt === MT.dockerManifest) {
    checkDescriptor(doc.config, label);
    if (!Array.isArray(doc.layers)) throw new RegistryError('EMANIFEST', `manifest of ${label} has no layers list`);
    for (const d of doc.layers as unknown[]) checkDescriptor(d, label);
    return { kind: 'image', mediaType: mt, manifest: doc as unknown as ImageManifest };
  }
  throw new RegistryError('EMANIFEST', `${label} has unsupported manifest media type "${mt}"`);
}

function checkDescriptor(d: unknown, label: string): void {
  const x = d as Descriptor;
  if (!x || typeof x !== 'object' || typeof x.digest !== 'string' || typeof x.mediaType !== 'string' || typeof x.size !== 'number' || x.size < 0) {
    throw new RegistryError('EMANIFEST', `manifest of ${label} has a malformed descriptor`);
  }
  if (!/^sha256:[0-9a-f]{64}$/.test(x.digest)) {
    throw new RegistryError('EMANIFEST', `manifest of ${label} names digest "${x.digest}", only sha256 is supported`);
  }
}

const ARCH_OF_NODE: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips64el: 'mips64le' };

export function hostPlatform(): Platform {
  const architecture = ARCH_OF_NODE[process.arch] ?? process.arch;
  const p: Platform = { os: process.platform === 'win32' ? 'windows' : process.platform, architecture };
  if (architecture === 'arm64') p.variant = 'v8';
  if (architecture === 'arm') p.variant = `v${(process.config.variables as { arm_version?: string }).arm_version ?? '7'}`;
  return p;
}

/** Parses `os/arch[/variant]` (also `arch` alone, with the host's os). */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length === 1 && parts[0]) return normalizePlatform({ os: hostPlatform().os, architecture: parts[0] });
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) {
    throw new RegistryError('EPLATFORM', `invalid platform "${s}": expected os/arch[/variant], e.g. linux/arm64`);
  }
  return normalizePlatform({ os: parts[0], architecture: parts[1], variant: parts[2] });
}

/** containerd's platforms.Normalize: aliases and default variants. */
export function normalizePlatform(p: Platform): Platform {
  let { architecture, variant } = p;
  const os = p.os.toLowerCase();
  switch (architecture) {
    case 'i386':
      architecture = '386';
      variant = undefined;
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = undefined;
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === undefined) variant = 'v8';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === undefined || variant === '7') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  return { ...p, os, architecture, variant };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Whether an index entry's platform serves the wanted one. */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (w.variant === h.variant) return true;
  // An entry without variant serves any variant of its architecture (arm64 images are often
  // published without "v8").
  return !have.variant;
}

/** Picks the manifest for `want` from an index; attestation manifests (unknown/unknown) never match. */
export function selectManifest(index: ImageIndex, want: Platform, label: string): Descriptor {
  const candidates = index.manifests.filter(
    (d) => (d.mediaType === MT.ociManifest || d.mediaType === MT.dockerManifest) && platformMatches(want, d.platform),
  );
  if (candidates.length === 0) {
    const have = index.manifests
      .filter((d) => d.platform && d.platform.os !== 'unknown')
      .map((d) => formatPlatform(normalizePlatform(d.platform!)));
    throw new RegistryError(
      'EPLATFORM',
      `no image for platform ${formatPlatform(normalizePlatform(want))} in ${label}${have.length ? ` (it has ${[...new Set(have)].join(', ')})` : ''}`,
    );
  }
  // Prefer an exact variant match.
  const w = normalizePlatform(want);
  return candidates.find((d) => normalizePlatform(d.platform!).variant === w.variant) ?? candidates[0];
}
