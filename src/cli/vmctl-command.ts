/**
 * The base of every vmctl command: turns the actionable errors thrown under
 * src/ into oclif's `this.error(message, {exit})`, so the user sees one
 * sentence and the right exit status instead of a stack trace.
 */
import { Command } from '@oclif/core';
import { VmctlError } from '../errors.ts';

export abstract class VmctlCommand extends Command {
  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof VmctlError) this.error(err.message, { exit: err.exit });
    return super.catch(err);
  }
}
