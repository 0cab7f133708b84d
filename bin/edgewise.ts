#!/usr/bin/env node
// The `edgewise` CLI: finds the commands in ./commands/*.js and dispatches to one.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { EXIT_USAGE, helpText, reportError, wantsHelp, type CliCommand } from './cli-util.js';

const commandsDir = fileURLToPath(new URL('./commands/', import.meta.url));

function isCommand(value: unknown): value is CliCommand {
  const c = value as CliCommand | undefined;
  return typeof c === 'object' && c !== null && typeof c.name === 'string' && typeof c.summary === 'string' && typeof c.usage === 'string' && typeof c.run === 'function';
}

async function importCommand(file: string): Promise<CliCommand> {
  const mod = (await import(pathToFileURL(join(commandsDir, file)).href)) as { command?: unknown };
  if (!isCommand(mod.command)) throw new Error(`${file} does not export a valid \`command\``);
  return mod.command;
}

function commandFiles(): string[] {
  if (!existsSync(commandsDir)) return [];
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.js') && !f.endsWith('.test.js'))
    .sort();
}

/** Loads one command; by its file name first, so that a broken sibling cannot break it. */
async function findCommand(name: string): Promise<CliCommand | null> {
  const files = commandFiles();
  if (files.includes(`${name}.js`)) {
    const command = await importCommand(`${name}.js`);
    if (command.name === name) return command;
  }
  for (const file of files) {
    try {
      const command = await importCommand(file);
      if (command.name === name) return command;
    } catch {
      // A module that fails to load is listed as broken by --help; here it just is not a match.
    }
  }
  return null;
}

async function printOverview(): Promise<void> {
  const rows: [string, string][] = [];
  for (const file of commandFiles()) {
    try {
      const command = await importCommand(file);
      rows.push([command.name, command.summary]);
    } catch (err) {
      rows.push([file.replace(/\.js$/, ''), `(failed to load: ${(err as Error).message.split('\n')[0]})`]);
    }
  }
  const width = Math.max(8, ...rows.map(([n]) => n.length));
  const lines = rows.map(([n, s]) => `  ${n.padEnd(width)}  ${s}`);
  process.stdout.write(
    `Edgewise: an edge LLM server with compressed weights.\n\nUsage: edgewise <command> [options]\n       edgewise <command> --help\n       edgewise --version\n\nCommands:\n${lines.join('\n')}\n`,
  );
}

/** The package version, read from package.json two levels above dist/bin/. */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    process.stdout.write(`edgewise ${version()}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help']);
    await printOverview();
    return name === undefined ? EXIT_USAGE : 0;
  }
  let command: CliCommand | null;
  try {
    command = await findCommand(name);
  } catch (err) {
    return reportError(name, err);
  }
  if (command === null) {
    process.stderr.write(`edgewise: error: unknown command "${name}" (run "edgewise --help" for the list)\n`);
    return EXIT_USAGE;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(helpText(command));
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    return reportError(name, err);
  }
}

// NOTE: set exitCode rather than calling exit() so that stdout is flushed when piped;
// commands that start servers keep the process alive on their own.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError('', err);
  },
);
