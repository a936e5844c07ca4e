/**
 * The command table oclif loads (package.json: oclif.commands, "explicit"
 * strategy): explicit, so no glob or manifest step stands between a new
 * command file and a working CLI under tsx.
 */
import Bench from './bench.ts';
import Boot from './boot.ts';
import BuildHost from './build-host.ts';
import Ctl from './ctl.ts';
import HostVm from './host-vm.ts';
import List from './list.ts';

export const COMMANDS = {
  bench: Bench,
  boot: Boot,
  'build-host': BuildHost,
  ctl: Ctl,
  'host-vm': HostVm,
  list: List,
};
