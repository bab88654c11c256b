#!/usr/bin/env node
/**
 * `prometheus-redis-client`: a standalone exporter (`serve`) and maintenance tool (`inspect`,
 * `purge`) for the metrics that registries keep under a prefix in Redis. It needs no application
 * code: everything renders from the metadata stored in Redis. The library never prints; this
 * command-line entry point is the one place that does.
 */
import { BIN, HELP, UsageError, help, warn, write } from './cli/shared.js';
import { inspect } from './cli/inspect.js';
import { purge } from './cli/purge.js';
import { serve } from './cli/serve.js';
import { VERSION } from './core/version.js';

async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'inspect':
      return inspect(rest);
    case 'purge':
      return purge(rest);
    case '-h':
    case '--help':
    case 'help':
      return help('main');
    case '-v':
    case '--version':
      write(VERSION);
      return 0;
    case undefined:
      process.stderr.write(HELP.main!);
      return 2;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    const command = ['serve', 'inspect', 'purge'].includes(argv[0] ?? '') ? ` ${argv[0]}` : '';
    if (error instanceof UsageError) {
      warn(`${BIN}${command}: ${error.message}`);
      warn(`Run '${BIN}${command} --help' for usage.`);
      process.exitCode = 2;
    } else {
      warn(`${BIN}${command}: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  },
);
