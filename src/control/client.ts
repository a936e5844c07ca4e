/**
 * The client side of a guest's control socket (src/kernel/control/): finds
 * the socket of a guest by name, sends one request and reads one reply,
 * and lists the guests running now. Loads nothing of the kernel.
 */
import { connect } from 'node:net';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { VmctlError } from '../errors.ts';
import { stateDir } from '../paths.ts';
import { CONTROL_SOCKET_NAME, type ControlReply, type InfoResult } from '../kernel/control/protocol.ts';

/** Why a socket did not answer: absent (ENOENT), refused (a vmctl that is gone), or another error. */
export class ControlConnectError extends Error {
  constructor(readonly path: string, readonly code: string, message: string) {
    super(message);
  }
}

const TIMEOUT_MS = 10_000;

/** One request on `path`, its reply (ok or not). */
export function request(path: string, cmd: string, args: string[] = []): Promise<ControlReply> {
  return new Promise((resolvePromise, reject) => {
    const sock = connect(path);
    let buf = '';
    let connected = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new VmctlError(`the guest on ${path} did not answer within ${TIMEOUT_MS / 1000}s`, 1));
    }, TIMEOUT_MS);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connected = true;
      sock.write(`${JSON.stringify({ cmd, args })}\n`);
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.destroy();
      try {
        resolvePromise(JSON.parse(buf.slice(0, nl)) as ControlReply);
      } catch {
        reject(new VmctlError(`the guest on ${path} answered something that is not JSON`, 1));
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ControlConnectError(path, connected ? 'EIO' : e.code ?? 'EIO', e.message));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      reject(new VmctlError(`the guest on ${path} closed the connection without an answer (did it just exit?)`, 1));
    });
  });
}

/**
 * Every control.sock under the state directory: <state>/<instance>/<rootfs-key>/control.sock,
 * the instance being a guest's name or the one `boot --name` gave.
 */
export async function controlSockets(): Promise<{ name: string; dir: string; socket: string }[]> {
  const out: { name: string; dir: string; socket: string }[] = [];
  const root = stateDir();
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const keys = await readdir(join(root, name)).catch(() => [] as string[]);
    for (const key of keys.sort()) {
      const socket = join(root, name, key, CONTROL_SOCKET_NAME);
      const st = await stat(socket).catch(() => undefined);
      if (st?.isSocket()) out.push({ name, dir: join(root, name, key), socket });
    }
  }
  return out;
}

export interface RunningGuest {
  name: string;
  dir: string;
  socket: string;
  info: InfoResult;
}

/** The guests whose control socket answers now. */
export async function runningGuests(): Promise<RunningGuest[]> {
  const found = await controlSockets();
  const answers = await Promise.all(found.map(async (g) => {
    try {
      const r = await request(g.socket, 'info');
      return r.ok ? { ...g, info: r.result as InfoResult } : undefined;
    } catch {
      return undefined;
    }
  }));
  return answers.filter((g): g is RunningGuest => g !== undefined);
}

/**
 * The socket of GUEST: a path (anything with a "/", or an existing
 * socket or state directory) or a guest name, looked up in the state
 * directory. Throws a VmctlError saying which guest is not running.
 */
export async function resolveGuestSocket(guest: string): Promise<string> {
  if (guest.includes('/') || guest.endsWith('.sock')) {
    const p = resolve(guest);
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) return join(p, CONTROL_SOCKET_NAME);
    return p;
  }
  const all = (await controlSockets()).filter((g) => g.name === guest);
  if (all.length === 0) {
    throw new VmctlError(`no such guest: "${guest}" has no control socket under ${join(stateDir(), guest)} ` +
      '(it is not running; `vmctl list` shows the guests that are)', 1);
  }
  if (all.length === 1) return all[0]!.socket;
  const live = (await runningGuests()).filter((g) => g.name === guest);
  if (live.length === 1) return live[0]!.socket;
  if (live.length === 0) throw new VmctlError(`guest "${guest}" is not running`, 1);
  throw new VmctlError(`guest "${guest}" runs on ${live.length} root filesystems; name one by its socket: ` +
    live.map((g) => g.socket).join(', '), 2);
}

/** One command to GUEST; its result, or a VmctlError with the reason. */
export async function control(guest: string, cmd: string, args: string[]): Promise<unknown> {
  const socket = await resolveGuestSocket(guest);
  let reply: ControlReply;
  try {
    reply = await request(socket, cmd, args);
  } catch (e) {
    if (e instanceof ControlConnectError) {
      const who = guest.includes('/') ? socket : `guest "${guest}"`;
      if (e.code === 'ECONNREFUSED') throw new VmctlError(`${who} is not running (nothing listens on ${socket})`, 1);
      if (e.code === 'ENOENT') throw new VmctlError(`${who} is not running (no socket ${socket})`, 1);
      if (e.code === 'ENOTSOCK') throw new VmctlError(`${socket} is not a control socket`, 2);
      throw new VmctlError(`cannot reach ${who} on ${socket}: ${e.message}`, 1);
    }
    throw e;
  }
  if (!reply.ok) throw new VmctlError(reply.error, reply.error.startsWith('unknown command') ? 2 : 1);
  return reply.result;
}

export const guestNameOfDir = (dir: string) => basename(dirname(dir));
