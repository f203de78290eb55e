// Starts the real sidecar for the tests and does what LanguageClient does at start:
// spawn, connect with vscode-jsonrpc, initialize, initialized; and shutdown, exit at the end.

import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MessageConnection, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { InitializationOptions } from '../protocol';

const repo = path.resolve(__dirname, '..', '..', '..', '..');

/** The sidecar's command: $PLUGINARY_TEST_COMMAND (a JSON array), else the repo's venv. */
export function serverCommand(): string[] {
  if (process.env.PLUGINARY_TEST_COMMAND) return JSON.parse(process.env.PLUGINARY_TEST_COMMAND);
  const venv = path.join(repo, '.venv', 'bin', 'pluginary');
  return [fs.existsSync(venv) ? venv : 'pluginary', 'serve'];
}

/** The real plugin fixtures (scripts/fetch-plugins). */
export function pluginFolder(): string {
  const fixtures = process.env.PLUGINARY_FIXTURES ?? path.join(os.homedir(), '.cache', 'pluginary-fixtures');
  return process.env.PLUGINARY_TEST_PLUGINS ?? path.join(fixtures, 'vst3');
}

export interface Sidecar {
  connection: MessageConnection;
  process: ChildProcess;
  initializeResult: any;
  stderr: string[];
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export async function startSidecar(options: InitializationOptions): Promise<Sidecar> {
  const [command, ...args] = serverCommand();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  connection.listen();
  const initializeResult = await connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'pluginary-vscode-tests' },
    rootUri: null,
    capabilities: { window: { workDoneProgress: true } },
    initializationOptions: options,
  });
  await connection.sendNotification('initialized', {});
  const stop = async () => {
    await connection.sendRequest('shutdown');
    await connection.sendNotification('exit');
    const code = await exited;
    connection.dispose();
    return code;
  };
  return { connection, process: child, initializeResult, stderr, exited, stop };
}
