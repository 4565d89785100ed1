// dock version, info and system df (docker/cli cli/command/system): the documents are the
// engine's (src/engine/system/info.ts, the same the API's /version, /info and /system/df answer);
// here: docker's text layouts and --format.

import type { Command } from 'commander';
import pkg from '../../../package.json';
import { group, withEngine } from './common';
import { renderFormat, renderFormatDeep } from './format';

const VERSION_TEXT = `Client:
 Version:           {{.Client.Version}}
 API version:       {{.Client.ApiVersion}}
 Node version:      {{.Client.GoVersion}}
 OS/Arch:           {{.Client.Os}}/{{.Client.Arch}}

Server: {{.Server.Platform.Name}}
 Engine:
  Version:          {{.Server.Version}}
  API version:      {{.Server.ApiVersion}} (minimum version {{.Server.MinAPIVersion}})
  Node version:     {{.Server.GoVersion}}
  OS/Arch:          {{.Server.Os}}/{{.Server.Arch}}
  Kernel version:   {{.Server.KernelVersion}}
{{- range .Server.Components}}{{if ne .Name "Engine"}}
 {{.Name}}:
  Version:          {{.Version}}{{end}}{{end}}`;

const INFO_TEXT = `Client:
 Version:    {{.ClientVersion}}
 Context:    default

Server:
 Containers: {{.Containers}}
  Running: {{.ContainersRunning}}
  Paused: {{.ContainersPaused}}
  Stopped: {{.ContainersStopped}}
 Images: {{.Images}}
 Server Version: {{.ServerVersion}}
 Storage Driver: {{.Driver}}
 Logging Driver: {{.LoggingDriver}}
 Cgroup Driver: {{.CgroupDriver}}
 Cgroup Version: {{.CgroupVersion}}
 Plugins:
  Volume: {{join .Plugins.Volume " "}}
  Network: {{join .Plugins.Network " "}}
  Log: {{join .Plugins.Log " "}}
 Runtimes: {{range $k, $v := .Runtimes}}{{$k}} {{end}}
 Default Runtime: {{.DefaultRuntime}}
 Init Binary: {{.InitBinary}}
 Security Options:{{range .SecurityOptions}}
  {{.}}{{end}}
 Kernel Version: {{.KernelVersion}}
 Operating System: {{.OperatingSystem}}
 OSType: {{.OSType}}
 Architecture: {{.Architecture}}
 CPUs: {{.NCPU}}
 Total Memory: {{.MemTotal}}
 Name: {{.Name}}
 ID: {{.ID}}
 Docker Root Dir: {{.DockerRootDir}}
 Debug Mode: {{.Debug}}
 Live Restore Enabled: {{.LiveRestoreEnabled}}`;

/** The client half of `version`: this dock, which is also the engine (there is no daemon). */
async function versionDoc(): Promise<Record<string, unknown>> {
  const { engineVersion } = await import('../../engine/system/info');
  const server = engineVersion();
  const { Version, ApiVersion, GoVersion, Os, Arch } = server;
  return { Client: { Version, ApiVersion, DefaultAPIVersion: ApiVersion, GoVersion, Os, Arch, Context: 'default' }, Server: server };
}

export function register(program: Command): void {
  // `dock --version` is docker's short line.
  program.option('-v, --version', 'print the version and exit').on('option:version', () => {
    process.stdout.write(`Dock version ${pkg.version}, skiff runtime\n`);
    process.exit(0);
  });

  const versionCmd = (c: Command) =>
    c.option('-f, --format <template>', 'Go template, e.g. {{.Server.Version}}; json').action(async (o: { format?: string }) => {
      process.stdout.write(renderFormatDeep(o.format ?? VERSION_TEXT, [await versionDoc()]));
    });
  versionCmd(program.command('version').description('Show the dock and engine versions'));

  const infoCmd = (c: Command) =>
    c.option('-f, --format <template>', 'Go template, e.g. {{.Containers}}; json').action(async (o: { format?: string }) => {
      const { engineInfo, ENGINE_VERSION } = await import('../../engine/system/info');
      await withEngine(async (engine) => {
        const doc = { ...engineInfo(engine), ClientVersion: ENGINE_VERSION };
        process.stdout.write(renderFormatDeep(o.format ?? INFO_TEXT, [doc]));
      });
    });
  infoCmd(program.command('info').description('Show engine-wide information'));

  const system = group(program, 'system', 'Manage the engine');
  infoCmd(system.command('info').description('Show engine-wide information'));
  system
    .command('df')
    .description('Show disk usage of images, containers, local volumes and the build cache')
    .option('-v, --verbose', 'one line per image, container and volume')
    .option('--format <template>', 'Go template; json')
    .action(async (o: { verbose?: boolean; format?: string }) => {
      const { engineDiskUsage } = await import('../../engine/system/info');
      const { humanSize } = await import('../../engine/images/inspect');
      await withEngine(async (engine) => {
        const du = (await engineDiskUsage(engine)) as {
          Images: Array<Record<string, unknown>>;
          Containers: Array<Record<string, unknown>>;
          Volumes: Array<{ Name: string; UsageData: { Size: number; RefCount: number } }>;
          BuildCache: Array<{ Size?: number; InUse?: boolean }>;
        };
        const size = (n: unknown) => Number(n) || 0;
        const images = du.Images;
        const activeImages = images.filter((i) => size(i.Containers) > 0);
        const running = du.Containers.filter((c) => c.State === 'running');
        const usedVolumes = du.Volumes.filter((v) => v.UsageData.RefCount > 0);
        const pct = (part: number, total: number) => (total ? `${Math.round((part / total) * 100)}%` : '0%');
        const imgTotal = images.reduce((a, i) => a + size(i.Size), 0);
        const imgUnused = images.filter((i) => !size(i.Containers)).reduce((a, i) => a + size(i.Size), 0);
        const ctrTotal = du.Containers.reduce((a, c) => a + size(c.SizeRw), 0);
        const ctrIdle = du.Containers.filter((c) => c.State !== 'running').reduce((a, c) => a + size(c.SizeRw), 0);
        const volTotal = du.Volumes.reduce((a, v) => a + v.UsageData.Size, 0);
        const volIdle = du.Volumes.filter((v) => !v.UsageData.RefCount).reduce((a, v) => a + v.UsageData.Size, 0);
        const cacheTotal = du.BuildCache.reduce((a, b) => a + size(b.Size), 0);
        const rows = [
          { Type: 'Images', TotalCount: images.length, Active: activeImages.length, Size: humanSize(imgTotal), Reclaimable: `${humanSize(imgUnused)} (${pct(imgUnused, imgTotal)})` },
          { Type: 'Containers', TotalCount: du.Containers.length, Active: running.length, Size: humanSize(ctrTotal), Reclaimable: `${humanSize(ctrIdle)} (${pct(ctrIdle, ctrTotal)})` },
          { Type: 'Local Volumes', TotalCount: du.Volumes.length, Active: usedVolumes.length, Size: humanSize(volTotal), Reclaimable: `${humanSize(volIdle)} (${pct(volIdle, volTotal)})` },
          { Type: 'Build Cache', TotalCount: du.BuildCache.length, Active: du.BuildCache.filter((b) => b.InUse).length, Size: humanSize(cacheTotal), Reclaimable: humanSize(cacheTotal) },
        ];
        const headers = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
        if (o.format || !o.verbose) {
          process.stdout.write(renderFormat(o.format ?? 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}', rows, headers));
          return;
        }
        process.stdout.write('Images space usage:\n\n');
        process.stdout.write(
          renderFormat(
            'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}\t{{.Containers}}',
            images.flatMap((i) => {
              const tags = (i.RepoTags as string[] | null)?.length ? (i.RepoTags as string[]) : ['<none>:<none>'];
              return tags.map((t) => ({ Repository: t.slice(0, t.lastIndexOf(':')), Tag: t.slice(t.lastIndexOf(':') + 1), ID: String(i.Id).slice(7, 19), Size: humanSize(size(i.Size)), Containers: size(i.Containers) }));
            }),
            { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', Size: 'SIZE', Containers: 'CONTAINERS' },
          ),
        );
        process.stdout.write('\nContainers space usage:\n\n');
        process.stdout.write(
          renderFormat(
            'table {{.ID}}\t{{.Image}}\t{{.Size}}\t{{.Status}}\t{{.Names}}',
            du.Containers.map((c) => ({ ID: String(c.Id).slice(0, 12), Image: c.Image, Size: humanSize(size(c.SizeRw)), Status: c.Status, Names: String((c.Names as string[])[0]).replace(/^\//, '') })),
            { ID: 'CONTAINER ID', Image: 'IMAGE', Size: 'SIZE', Status: 'STATUS', Names: 'NAMES' },
          ),
        );
        process.stdout.write('\nLocal Volumes space usage:\n\n');
        process.stdout.write(renderFormat('table {{.Name}}\t{{.Links}}\t{{.Size}}', du.Volumes.map((v) => ({ Name: v.Name, Links: v.UsageData.RefCount, Size: humanSize(v.UsageData.Size) })), { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' }));
      });
    });
}
