/**
 * vmctl's help (package.json: oclif.helpClass). `vmctl --help` alone must
 * show how to use every command, so the root help adds each command's
 * examples under the command list that oclif prints.
 */
import { Command, Help } from '@oclif/core';

type Example = Command.Example;

export default class VmctlHelp extends Help {
  /** The two template variables our examples use, filled in without ejs. */
  private fillTemplate(text: string, commandId: string): string {
    return text.replaceAll('<%= config.bin %>', this.config.bin).replaceAll('<%= command.id %>', commandId);
  }

  private formatExample(example: Example, commandId: string): string {
    if (typeof example === 'string') return `  $ ${this.fillTemplate(example, commandId)}`;
    return `  ${this.fillTemplate(example.description, commandId)}\n    $ ${this.fillTemplate(example.command, commandId)}`;
  }

  protected override async showRootHelp(): Promise<void> {
    await super.showRootHelp();
    const blocks = this.sortedCommands.flatMap((command) =>
      (command.examples ?? []).map((example) => this.formatExample(example, command.id)),
    );
    if (blocks.length > 0) this.log(`EXAMPLES\n${blocks.join('\n\n')}\n`);
  }
}
