// dock's networking library: the API the containers code and the CLI use (README.md beside it).
export { NetworkManager, DEFAULT_NETWORK, SPECIAL_MODES, loopbackUp } from './manager';
export type { NetworkManagerOptions, CreateNetworkOptions, NetworkSummary, ContainerRef, ConnectOptions, Endpoint, PortBinding, Published } from './manager';
export { NetworkError } from './errors';
export type { NetworkErrorCode } from './errors';
export { parsePortSpec, publishAll, formatBinding } from './ports';
export type { PortSpec, Proto } from './ports';
export { buildHosts, buildResolvConf, parseAddHost, parseResolvConf } from './etcfiles';
export { spawnCount } from './netns';
