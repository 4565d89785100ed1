// What the dock compose tests share: a test network namespace as the engine's host side
// (DOCK_HOST_NETNS), the busybox test image in a private engine root, a project directory, a
// `dock compose` runner, and a teardown that takes the project down and checks that nothing is left.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RunResult } from '../fixtures/images/dock';
import { buildAppImage, cleanRoot, d, newRoot, type TestImage } from './dock-helpers';
import { TestNetns, ensureNetTools } from './net-env';

export class ComposeWorld {
  img!: TestImage;
  root!: string;
  host!: TestNetns;
  dir!: string;

  async setUp(tag: string): Promise<void> {
    ensureNetTools();
    this.host = new TestNetns(tag);
    this.img = buildAppImage();
    this.root = await newRoot(this.img);
    this.dir = mkdtempSync(join(tmpdir(), `compose-${tag}-`));
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return { DOCK_HOST_NETNS: this.host.path, ...extra };
  }

  /** `dock compose -f DIR/FILE ARGS` (the project directory is the file's). */
  compose(args: string[], o: { file?: string; dir?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
    const dir = o.dir ?? this.dir;
    return d(this.root, ['compose', '--project-directory', dir, '-f', join(dir, o.file ?? 'compose.yaml'), ...args], { env: this.env(o.env) });
  }

  async ok(args: string[], o: { file?: string; env?: Record<string, string> } = {}): Promise<string> {
    const r = await this.compose(args, o);
    if (r.code !== 0) throw new Error(`dock compose ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** Plain dock in the same root and host namespace. */
  async dock(args: string[]): Promise<string> {
    return (await d(this.root, args, { env: this.env() })).stdout;
  }

  async tearDown(): Promise<void> {
    if (this.root) {
      await this.compose(['down', '-v', '--remove-orphans', '-t', '1']).catch(() => undefined);
      const left = await cleanRoot(this.root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.img?.cleanup();
    this.host?.remove();
  }
}
