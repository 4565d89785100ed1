// What `up` decides per service (planner.ts) and when a container counts as changed (labels.ts).
import { describe, expect, it } from 'vitest';
import { configHash } from '../../src/engine/compose/labels';
import { planService, type Existing } from '../../src/engine/compose/planner';
import type { Project, Service } from '../../src/engine/compose/model';
import { containerPlan } from '../../src/engine/compose/service-config';

const c = (number: number, hash = 'h', imageId = 'i'): Existing => ({ id: `id${number}`, name: `p-s-${number}`, number, hash, imageId });
const names = (l: Existing[]) => l.map((x) => x.number);

describe('planService', () => {
  it('creates the missing numbers and keeps what is unchanged', () => {
    const p = planService({ replicas: 3, hash: 'h', imageId: 'i' }, [c(2)]);
    expect({ keep: names(p.keep), recreate: names(p.recreate), create: p.create, remove: names(p.remove) }).toEqual({ keep: [2], recreate: [], create: [1, 3], remove: [] });
  });
  it('recreates on a new config hash or image, not with --no-recreate; always with --force-recreate', () => {
    expect(names(planService({ replicas: 2, hash: 'new', imageId: 'i' }, [c(1), c(2, 'new')]).recreate)).toEqual([1]);
    expect(names(planService({ replicas: 1, hash: 'h', imageId: 'other' }, [c(1)]).recreate)).toEqual([1]);
    expect(names(planService({ replicas: 1, hash: 'new', imageId: 'i' }, [c(1)], { noRecreate: true }).keep)).toEqual([1]);
    expect(names(planService({ replicas: 2, hash: 'h', imageId: 'i' }, [c(1), c(2)], { forceRecreate: true }).recreate)).toEqual([1, 2]);
  });
  it('scales down by removing the highest numbers, and duplicates', () => {
    const p = planService({ replicas: 1, hash: 'h', imageId: 'i' }, [c(3), c(1), c(2), { ...c(1), id: 'dup' }]);
    expect({ keep: names(p.keep), remove: p.remove.map((x) => x.id) }).toEqual({ keep: [1], remove: ['dup', 'id2', 'id3'] });
    expect(planService({ replicas: 0, hash: 'h', imageId: 'i' }, [c(1)]).remove.map((x) => x.id)).toEqual(['id1']);
  });
});

describe('configHash', () => {
  const base: Service = { image: 'busybox', environment: { A: '1', B: '2' }, networks: { default: null } };
  const nets = { default: 'p_default' };
  it('does not depend on key order, replicas, scale, build, profiles or depends_on', () => {
    const h = configHash(base, nets);
    expect(configHash({ networks: { default: null }, environment: { B: '2', A: '1' }, image: 'busybox' }, nets)).toBe(h);
    expect(configHash({ ...base, deploy: { replicas: 5 }, scale: 2, profiles: ['x'], build: { context: '/x' }, depends_on: { db: { condition: 'service_started', required: true, restart: false } } }, nets)).toBe(h);
  });
  it('changes with what makes the container', () => {
    const h = configHash(base, nets);
    expect(configHash({ ...base, environment: { A: '1', B: '3' } }, nets)).not.toBe(h);
    expect(configHash({ ...base, deploy: { resources: { limits: { memory: '64m' } } } }, nets)).not.toBe(h);
    expect(configHash(base, { default: 'other_default' })).not.toBe(h);
    for (const extra of [{ sysctls: { 'net.core.somaxconn': '1024' } }, { shm_size: '128m' }, { group_add: ['audio'] }, { ipc: 'shareable' }, { pid: 'host' }, { cgroup: 'host' as const }, { mem_reservation: '32m' }, { deploy: { resources: { reservations: { memory: '32m' } } } }, { oom_score_adj: 100 }, { cpu_quota: 50000 }, { blkio_config: { weight: 300 } }, { annotations: { a: 'b' } }, { logging: { driver: 'none' } }]) {
      expect(configHash({ ...base, ...extra }, nets), JSON.stringify(extra)).not.toBe(h);
    }
  });
});

describe('containerPlan', () => {
  const project: Project = { name: 'p', services: {}, networks: { default: { name: 'p_default' } }, volumes: {}, secrets: {}, configs: {} };
  const plan = (s: Service) => containerPlan({ project, service: 'app', number: 1, hash: 'h', workingDir: '/w', configFiles: ['/w/compose.yaml'], imageId: 'sha256:x', fileOf: () => '' }, { networks: { default: null }, ...s }).flags;
  it('gives the tuning and namespace keys to the engine as its run flags', () => {
    const f = plan({
      image: 'busybox',
      sysctls: { 'net.ipv4.ip_forward': '1' },
      shm_size: '128m',
      group_add: ['audio', '1234'],
      ipc: 'service:db',
      pid: 'host',
      uts: 'host',
      userns_mode: 'host',
      cgroup: 'private',
      mac_address: '02:42:ac:11:00:99',
      mem_reservation: '64m',
      deploy: { resources: { reservations: { memory: '32m' } } },
      oom_kill_disable: true,
      oom_score_adj: -200,
      cpu_period: 100000,
      cpu_quota: 50000,
      blkio_config: { weight: 300, device_read_bps: [{ path: '/dev/sda', rate: 10485760 }], device_write_iops: [{ path: '/dev/sda', rate: 100 }] },
      logging: { driver: 'local' },
      annotations: { 'org.example.team': 'storage' },
    });
    expect(f).toMatchObject({
      sysctl: ['net.ipv4.ip_forward=1'],
      shmSize: '128m',
      groupAdd: ['audio', '1234'],
      ipc: 'container:p-db-1',
      pid: 'host',
      uts: 'host',
      userns: 'host',
      cgroupns: 'private',
      macAddress: '02:42:ac:11:00:99',
      memoryReservation: '32m',
      oomKillDisable: true,
      oomScoreAdj: '-200',
      cpuPeriod: '100000',
      cpuQuota: '50000',
      blkioWeight: '300',
      deviceReadBps: ['/dev/sda:10485760'],
      deviceWriteIops: ['/dev/sda:100'],
      logDriver: 'local',
      annotation: ['org.example.team=storage'],
    });
    expect(plan({ image: 'busybox' })).not.toHaveProperty('sysctl');
  });
});
