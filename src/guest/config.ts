/**
 * The guest config format (guest-configs/*.json) and its validation. Every
 * message names the file and the field, so a typo is fixed at once.
 *
 * {
 *   "name": "busybox",                  required; [A-Za-z0-9._-], names the state dir
 *   "description": "…",                 optional; shown by `vmctl boot --help`-style listings
 *   "rootfs": "busybox",                required; a builtin name, or a host directory
 *                                       (relative paths are relative to the config file)
 *   "init": ["/sbin/init"],             required; guest argv of pid 1, argv[0] absolute
 *   "env": {"PATH": "/bin"},            optional; environment of pid 1
 *   "hostname": "vmctl",                optional; default "vmctl"
 *   "cwd": "/",                         optional; absolute guest path, default "/"
 *   "uid": 0, "gid": 0,                 optional; default 0 (root of the guest)
 *   "rlimits": {"nofile": 1024},        optional; lowercase RLIMIT_* names, non-negative integers
 *   "kernel": "uml"                     optional; boot a User-Mode Linux kernel instead of vmctl's
 *                                       own: "uml" (Debian's linux.uml) or the path of a UML binary
 *                                       (relative paths are relative to the config file)
 * }
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { ExitCode, VmctlError } from '../errors.ts';
import { BUILTIN_ROOTFS, type RootfsSource } from '../rootfs/resolve.ts';

export interface GuestConfig {
  name: string;
  description: string;
  rootfs: RootfsSource;
  init: string[];
  env: Record<string, string>;
  hostname: string;
  cwd: string;
  uid: number;
  gid: number;
  rlimits: Record<string, number>;
  /** A User-Mode Linux kernel to boot instead of vmctl's own: "uml" or an absolute host path (src/uml/). */
  kernel?: string;
}

/** The RLIMIT_* resources Linux has, by the lowercase name configs use. */
export const RLIMIT_NAMES = [
  'cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile',
  'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime',
] as const;

const FIELDS = ['name', 'description', 'rootfs', 'init', 'env', 'hostname', 'cwd', 'uid', 'gid', 'rlimits', 'kernel'];
const REQUIRED = ['name', 'rootfs', 'init'];
/** Linux's HOST_NAME_MAX. */
const HOST_NAME_MAX = 64;
/** The largest valid uid/gid: (uid_t)-1 means "no id". */
const MAX_ID = 0xffff_fffe;

type Json = Record<string, unknown>;

class FieldChecker {
  constructor(
    private readonly file: string,
    private readonly json: Json,
  ) {}

  fail(field: string, problem: string): never {
    throw new VmctlError(`${this.file}: field "${field}" ${problem}`, ExitCode.usage);
  }

  string(field: string, fallback?: string): string {
    const value = this.json[field] ?? fallback;
    if (typeof value !== 'string') this.fail(field, 'must be a string');
    return value;
  }

  guestPath(field: string, value: string): string {
    if (!value.startsWith('/')) this.fail(field, `must be an absolute guest path (starting with "/"), not "${value}"`);
    return value;
  }

  id(field: string): number {
    const value = this.json[field] ?? 0;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_ID) {
      this.fail(field, `must be an integer from 0 to ${MAX_ID}`);
    }
    return value;
  }

  object(field: string): Json {
    const value = this.json[field] ?? {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, 'must be an object');
    return value as Json;
  }
}

function checkInit(c: FieldChecker, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) c.fail('init', 'must be a non-empty array of strings (the argv of pid 1)');
  value.forEach((arg, i) => {
    if (typeof arg !== 'string') c.fail(`init[${i}]`, 'must be a string');
  });
  c.guestPath('init[0]', value[0] as string);
  return value as string[];
}

function checkEnv(c: FieldChecker): Record<string, string> {
  const env = c.object('env');
  for (const [key, value] of Object.entries(env)) {
    if (key === '' || key.includes('=') || key.includes('\0')) c.fail(`env.${key}`, 'is not a valid variable name');
    if (typeof value !== 'string') c.fail(`env.${key}`, 'must be a string');
  }
  return env as Record<string, string>;
}

function checkRlimits(c: FieldChecker): Record<string, number> {
  const rlimits = c.object('rlimits');
  for (const [key, value] of Object.entries(rlimits)) {
    if (!(RLIMIT_NAMES as readonly string[]).includes(key)) {
      c.fail(`rlimits.${key}`, `is not a resource limit; known ones: ${RLIMIT_NAMES.join(', ')}`);
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      c.fail(`rlimits.${key}`, 'must be a non-negative integer');
    }
  }
  return rlimits as Record<string, number>;
}

function checkRootfs(c: FieldChecker, value: string, configFile: string): RootfsSource {
  if (value === '') c.fail('rootfs', `must name a builtin root filesystem (${BUILTIN_ROOTFS.join(', ')}) or a host directory`);
  if ((BUILTIN_ROOTFS as readonly string[]).includes(value)) return { kind: 'builtin', name: value };
  return { kind: 'directory', path: isAbsolute(value) ? value : resolve(dirname(configFile), value) };
}

function checkKernel(c: FieldChecker, json: Json, configFile: string): { kernel?: string } {
  if (json.kernel === undefined) return {};
  const value = json.kernel;
  if (typeof value !== 'string' || value.trim() === '') {
    c.fail('kernel', 'must be "uml" (Debian\'s /usr/bin/linux.uml) or the path of a User-Mode Linux kernel binary (a `make ARCH=um` build)');
  }
  if (value === 'uml') return { kernel: value };
  return { kernel: isAbsolute(value) ? value : resolve(dirname(configFile), value) };
}

/**
 * Validates parsed JSON as a guest config. `display` is how the file is
 * named in messages; `configFile` anchors relative rootfs paths.
 */
export function validateGuestConfig(json: unknown, display: string, configFile: string): GuestConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new VmctlError(`${display}: a guest config must be a JSON object`, ExitCode.usage);
  }
  const obj = json as Json;
  const c = new FieldChecker(display, obj);
  for (const key of Object.keys(obj)) {
    if (!FIELDS.includes(key)) c.fail(key, `is not a guest config field; known fields: ${FIELDS.join(', ')}`);
  }
  for (const key of REQUIRED) {
    if (obj[key] === undefined) c.fail(key, 'is required');
  }
  const name = c.string('name');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    c.fail('name', 'must start with a letter or digit and hold only letters, digits, ".", "_" and "-"');
  }
  const hostname = c.string('hostname', 'vmctl');
  if (hostname === '' || Buffer.byteLength(hostname) > HOST_NAME_MAX) c.fail('hostname', `must be 1 to ${HOST_NAME_MAX} bytes`);
  return {
    name,
    description: c.string('description', ''),
    rootfs: checkRootfs(c, c.string('rootfs'), configFile),
    init: checkInit(c, obj.init),
    env: checkEnv(c),
    hostname,
    cwd: c.guestPath('cwd', c.string('cwd', '/')),
    uid: c.id('uid'),
    gid: c.id('gid'),
    rlimits: checkRlimits(c),
    ...checkKernel(c, obj, configFile),
  };
}
