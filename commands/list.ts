import { Flags } from '@oclif/core';
import { VmctlCommand } from '../src/cli/vmctl-command.ts';
import { runningGuests } from '../src/control/client.ts';

export default class List extends VmctlCommand {
  static override summary = 'List the running guests: name, state directory, pid of their vmctl process.';

  static override description = 'Scans the state directory ($XDG_STATE_HOME/vmctl) for control sockets that answer (see `vmctl ctl`).';

  static override flags = {
    json: Flags.boolean({ description: 'Print the list as JSON.' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    const guests = await runningGuests();
    if (flags.json) {
      this.log(JSON.stringify(guests.map((g) => ({ name: g.name, dir: g.dir, socket: g.socket, ...g.info })), null, 2));
      return;
    }
    if (guests.length === 0) {
      this.log('no running guests');
      return;
    }
    const rows = [['NAME', 'PID', 'STATE', 'PROCS', 'STATE DIR'],
      ...guests.map((g) => [g.name, String(g.info.pid), g.info.frozen ? 'frozen' : 'running', String(g.info.processes), g.dir])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) this.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  }
}
