// The normalized compose project: what the loader produces and `dock compose config` prints. One
// syntax per key (the Compose Specification's long forms), paths absolute, names resolved.
// Field names are the specification's, so the model prints as a compose file.

export interface PortConfig {
  target: number;
  /** Host port or range as text ("8080", "8000-8001"); absent: a free port. */
  published?: string;
  host_ip?: string;
  protocol: 'tcp' | 'udp';
  mode: 'ingress' | 'host';
}

export interface ServiceVolume {
  type: 'bind' | 'volume' | 'tmpfs';
  /** bind: absolute host path; volume: the key in the project's volumes (absent: anonymous). */
  source?: string;
  target: string;
  read_only?: boolean;
  bind?: { create_host_path?: boolean; propagation?: string };
  volume?: { nocopy?: boolean };
  tmpfs?: { size?: number; mode?: number };
}

export interface DependsOn {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  required: boolean;
  restart: boolean;
}

export interface ServiceNetwork {
  aliases?: string[];
  ipv4_address?: string;
}

export interface Healthcheck {
  test?: string[];
  interval?: string;
  timeout?: string;
  start_period?: string;
  retries?: number;
  disable?: boolean;
}

export interface BuildConfig {
  context: string;
  dockerfile?: string;
  dockerfile_inline?: string;
  args?: Record<string, string | null>;
  target?: string;
  labels?: Record<string, string>;
  no_cache?: boolean;
  /** The network of the RUN steps (dock build --network): default, none, host or a network's name. */
  network?: string;
}

export interface FileReference {
  source: string;
  target: string;
}

export interface Service {
  image?: string;
  build?: BuildConfig;
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment?: Record<string, string | null>;
  ports?: PortConfig[];
  expose?: string[];
  volumes?: ServiceVolume[];
  tmpfs?: string[];
  /** Absent when network_mode is set. */
  networks?: Record<string, ServiceNetwork | null>;
  network_mode?: string;
  depends_on?: Record<string, DependsOn>;
  healthcheck?: Healthcheck;
  restart?: string;
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: number; memory?: string; pids?: number }; reservations?: { memory?: string } } };
  scale?: number;
  mem_limit?: string;
  memswap_limit?: string;
  cpus?: number;
  cpu_shares?: number;
  cpuset?: string;
  pids_limit?: number;
  user?: string;
  working_dir?: string;
  hostname?: string;
  domainname?: string;
  labels?: Record<string, string>;
  container_name?: string;
  extra_hosts?: string[];
  dns?: string[];
  dns_search?: string[];
  dns_opt?: string[];
  cap_add?: string[];
  cap_drop?: string[];
  privileged?: boolean;
  read_only?: boolean;
  init?: boolean;
  stdin_open?: boolean;
  tty?: boolean;
  stop_signal?: string;
  stop_grace_period?: string;
  ulimits?: Record<string, number | { soft: number; hard: number }>;
  devices?: string[];
  security_opt?: string[];
  logging?: { driver?: string; options?: Record<string, string> };
  profiles?: string[];
  pull_policy?: 'always' | 'never' | 'missing' | 'build';
  secrets?: FileReference[];
  configs?: FileReference[];
  sysctls?: Record<string, string>;
  /** As given ("64m" or a number of bytes as text). */
  shm_size?: string;
  group_add?: string[];
  /** host, private, shareable, none, container:NAME or service:NAME. */
  ipc?: string;
  /** host, container:NAME or service:NAME. */
  pid?: string;
  uts?: 'host';
  userns_mode?: 'host';
  cgroup?: 'host' | 'private';
  mac_address?: string;
  mem_reservation?: string;
  oom_kill_disable?: boolean;
  oom_score_adj?: number;
  cpu_period?: number;
  cpu_quota?: number;
  /** Rates in bytes (bps) or operations (iops) per second, as docker-compose prints them. */
  blkio_config?: { weight?: number } & Partial<Record<BlkioLimitKey, Array<{ path: string; rate: number }>>>;
  annotations?: Record<string, string>;
}

export type BlkioLimitKey = 'device_read_bps' | 'device_read_iops' | 'device_write_bps' | 'device_write_iops';

export interface NetworkConfig {
  /** The engine's name: <project>_<key>, the name: given, or the external one. */
  name: string;
  driver?: 'bridge';
  driver_opts?: Record<string, string>;
  ipam?: { driver?: string; config?: Array<{ subnet?: string; gateway?: string }> };
  external?: boolean;
  internal?: boolean;
  labels?: Record<string, string>;
}

export interface VolumeConfig {
  name: string;
  driver?: 'local';
  external?: boolean;
  labels?: Record<string, string>;
}

export interface FileObjectConfig {
  name: string;
  /** Absolute path of the file (a secret/config from `environment` or `content` is written to one by the runner). */
  file?: string;
  environment?: string;
  content?: string;
}

export interface Project {
  name: string;
  services: Record<string, Service>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  secrets: Record<string, FileObjectConfig>;
  configs: Record<string, FileObjectConfig>;
}

/** Where a project came from: the labels name it, so that `down` in another directory finds it. */
export interface ProjectSource {
  workingDir: string;
  configFiles: string[];
  /** Services left out because their profiles are not active. */
  disabled: Record<string, Service>;
  /** The environment interpolation saw (.env then the shell), for `run -e KEY` and env_file. */
  environment: Record<string, string>;
}
