// Device cgroup rules: normalising the OCI `linux.resources.devices` list, writing it to the v1
// controller, and emulating what the v1 kernel does with it so that v2 (eBPF) enforces the same
// policy.
//
// The v1 kernel semantics (security/device_cgroup.c), which the emulator reproduces:
//  * the cgroup has a default behaviour (allow or deny) and a list of exceptions;
//  * a rule of type "a" resets: it sets the behaviour (allow for devices.allow, deny for
//    devices.deny) and clears all exceptions;
//  * any other rule whose verdict differs from the default adds an exception (merging the access
//    bits into an existing exception with the same type/major/minor), and a rule whose verdict
//    equals the default removes those access bits from the exception with exactly the same
//    type/major/minor (it does not punch a hole in a wildcard exception);
//  * with default deny, a request is allowed if one exception matches the device and contains all
//    requested access bits; with default allow, a request is denied if one exception matches the
//    device and shares any access bit with the request.
// A new v1 cgroup starts as a copy of its parent: on the root, "allow everything", which is also
// the emulator's starting point.

import type { LinuxDeviceCgroup } from './types';
import { cgroupError } from './files';

export type DeviceType = 'a' | 'c' | 'b';
export const ACC_MKNOD = 1;
export const ACC_READ = 2;
export const ACC_WRITE = 4;
export const ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE;

/** A rule with wildcards resolved: major/minor -1 means any. */
export interface DeviceRule {
  allow: boolean;
  type: DeviceType;
  major: number;
  minor: number;
  access: number;
}

/**
 * A device rule's access. As runc reads it (devices.Permissions): r, w and m in any order and
 * number, other letters ignored, so "rwa", "mrw" and "rrw" are all accepted as engines write them.
 */
export function parseAccess(access: string | undefined): number {
  if (access === undefined || access === '') return ACC_ALL;
  let bits = 0;
  for (const ch of access) {
    if (ch === 'r') bits |= ACC_READ;
    else if (ch === 'w') bits |= ACC_WRITE;
    else if (ch === 'm') bits |= ACC_MKNOD;
  }
  return bits;
}

export function accessString(bits: number): string {
  return (bits & ACC_READ ? 'r' : '') + (bits & ACC_WRITE ? 'w' : '') + (bits & ACC_MKNOD ? 'm' : '');
}

function devNumber(raw: number | bigint | null | undefined, what: string): number {
  if (raw === undefined || raw === null) return -1;
  const v = Number(raw);
  if (v === -1) return -1;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw cgroupError('EINVAL', `invalid device ${what} number ${v}`);
  return v;
}

export function normalizeRule(r: LinuxDeviceCgroup): DeviceRule {
  const given = r.type as string | null | undefined;
  const t = given === undefined || given === null || given === '' ? 'a' : given;
  if (t !== 'a' && t !== 'c' && t !== 'b') throw cgroupError('EINVAL', `invalid device type ${JSON.stringify(r.type)}: must be a, c or b`);
  return { allow: !!r.allow, type: t, major: devNumber(r.major, 'major'), minor: devNumber(r.minor, 'minor'), access: parseAccess(r.access) };
}

/** The line written to devices.allow / devices.deny, e.g. "c 1:3 rwm", "a *:* rwm". */
export function v1RuleString(r: DeviceRule): string {
  if (r.type === 'a') return 'a *:* rwm';
  const n = (x: number) => (x < 0 ? '*' : String(x));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${accessString(r.access)}`;
}

/** The v1 controller's state: default behaviour and exceptions (each with the opposite verdict). */
export interface DeviceState {
  defaultAllow: boolean;
  exceptions: { type: 'c' | 'b'; major: number; minor: number; access: number }[];
}

export function emulateDeviceRules(rules: readonly LinuxDeviceCgroup[]): DeviceState {
  const state: DeviceState = { defaultAllow: true, exceptions: [] };
  for (const raw of rules) {
    const r = normalizeRule(raw);
    if (r.type === 'a') {
      state.defaultAllow = r.allow;
      state.exceptions = [];
      continue;
    }
    const same = state.exceptions.find((e) => e.type === r.type && e.major === r.major && e.minor === r.minor);
    if (r.allow !== state.defaultAllow) {
      if (same) same.access |= r.access;
      else state.exceptions.push({ type: r.type, major: r.major, minor: r.minor, access: r.access });
    } else if (same) {
      same.access &= ~r.access;
      if (same.access === 0) state.exceptions = state.exceptions.filter((e) => e !== same);
    }
  }
  return state;
}

/** What the v1 kernel would answer for one access (used by tests to check the eBPF program). */
export function deviceAllowed(state: DeviceState, type: 'c' | 'b', major: number, minor: number, access: number): boolean {
  const matches = (e: DeviceState['exceptions'][number]) =>
    e.type === type && (e.major === -1 || e.major === major) && (e.minor === -1 || e.minor === minor);
  if (state.defaultAllow) return !state.exceptions.some((e) => matches(e) && (e.access & access) !== 0);
  return state.exceptions.some((e) => matches(e) && (access & ~e.access) === 0);
}

/**
 * The devices every container needs (runc's AllowedDevices, without tun/tap): mknod of any node,
 * /dev/null, zero, full, random, urandom, tty, console, ptmx and the pty slaves. The lifecycle code
 * appends these (plus one allow rule per linux.devices entry) after the config's own rules.
 */
export const DEFAULT_ALLOWED_DEVICES: readonly LinuxDeviceCgroup[] = [
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
];
