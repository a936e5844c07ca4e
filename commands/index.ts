/**
 * The command table oclif loads (package.json: oclif.commands, "explicit"
 * strategy): explicit, so no glob or manifest step stands between a new
 * command file and a working CLI under tsx.
 */
import Boot from './boot.ts';
import BuildHost from './build-host.ts';

export const COMMANDS = {
  boot: Boot,
  'build-host': BuildHost,
};
