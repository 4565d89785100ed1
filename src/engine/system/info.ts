// What the engine says about itself: version, info and disk usage, in Docker's shapes (the API's
// /version, /info and /system/df answer with these; the CLI renders the same documents).

import { createHash } from 'node:crypto';
import { cpus, hostname, release, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import pkg from '../../../package.json';
import { detectCgroupVersion } from '../../runtime/cgroups/detect';
import type { Engine } from '../containers/engine';
import { listContainers } from '../containers/inspect';
import { diskUsage as dirUsage } from '../volumes/store';

export const ENGINE_VERSION: string = pkg.version;

/** The API versions this engine's service speaks (the newest, and the oldest clients it accepts). */
export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';

const goArch = (a: string) => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' })[a] ?? a;

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

export function engineVersion() {
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: '', GoVersion: `node${process.versions.node}`, Os: 'linux', Arch: goArch(process.arch), KernelVersion: release(), BuildTime: '' };
  return {
    Platform: { Name: 'dock (skiff)' },
    Components: [{ Name: 'Engine', Version: ENGINE_VERSION, Details: details }],
    Version: ENGINE_VERSION,
    ...details,
  };
}

export function engineInfo(engine: Engine) {
  const all = listContainers(engine, { all: true });
  const count = (s: string) => all.filter((c) => c.live.status === s).length;
  const cgroupVersion = String(detectCgroupVersion());
  return {
    ID: createHash('sha256').update(engine.root).digest('hex').slice(0, 36),
    Containers: all.length,
    ContainersRunning: count('running'),
    ContainersPaused: count('paused'),
    ContainersStopped: all.length - count('running') - count('paused'),
    Images: engine.images.listImages().length,
    Driver: 'overlay',
    DriverStatus: [['Backing Filesystem', 'extfs']],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: [], Log: ['json-file'] },
    MemoryLimit: true,
    SwapLimit: cgroupVersion === '2',
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroupVersion,
    NEventsListener: 0,
    KernelVersion: release(),
    OperatingSystem: osName(),
    OSVersion: '',
    OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
    NCPU: cpus().length,
    MemTotal: totalmem(),
    DockerRootDir: engine.root,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: ENGINE_VERSION,
    Runtimes: { skiff: { path: 'skiff' } },
    DefaultRuntime: 'skiff',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: 'skiff-init',
    SecurityOptions: ['name=seccomp,profile=builtin', ...(cgroupVersion === '2' ? ['name=cgroupns'] : [])],
    Warnings: [],
  };
}

/** `system df`: images, containers and volumes with their sizes (the build cache is not counted yet). */
export async function engineDiskUsage(engine: Engine) {
  const { imageSummaries } = await import('../images/inspect');
  const images = await imageSummaries(engine.images);
  const containers = listContainers(engine, { all: true }).map(({ doc, live }) => ({
    Id: doc.Id,
    Names: [`/${doc.Name}`],
    Image: doc.Config.Image,
    ImageID: doc.ImageId,
    Command: [...(doc.Config.Entrypoint ?? []), ...(doc.Config.Cmd ?? [])].join(' '),
    Created: Math.floor(Date.parse(doc.Created) / 1000),
    State: live.status,
    Status: live.status,
    SizeRw: dirUsage(`${engine.paths.containers}/${doc.Id}/upper`),
    SizeRootFs: 0,
    Labels: doc.Config.Labels,
    Mounts: [],
  }));
  const volumes = engine.volumes.list().map(({ Anonymous: _a, ...v }) => ({ ...v, UsageData: { Size: dirUsage(engine.volumes.dataPath(v.Name)), RefCount: engine.volumes.users(v.Name).length } }));
  return {
    LayersSize: images.reduce((a, i) => a + Number(i.Size), 0),
    Images: images,
    Containers: containers,
    Volumes: volumes,
    BuildCache: [],
  };
}
