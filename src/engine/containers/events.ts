// Container events in Docker's shape: the actor is the container, its attributes are its labels,
// image and name (plus what the action adds: exitCode, signal, execID...).

import { recordEvent } from '../events/log';
import type { Engine } from './engine';
import type { ContainerDoc } from './types';

export function containerEvent(engine: Engine, doc: ContainerDoc, action: string, extra: Record<string, string> = {}): void {
  recordEvent(engine.images.db, 'container', action, doc.Id, { ...doc.Config.Labels, image: doc.Config.Image, name: doc.Name, ...extra });
}
