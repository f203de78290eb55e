// The VS Code glue: spawn the sidecar with vscode-languageclient, wire commands to core.ts,
// show results in VS Code's own UI. Logic worth testing lives in core.ts.

import * as os from 'os';
import * as vscode from 'vscode';
import { Executable, LanguageClient } from 'vscode-languageclient/node';
import {
  COMMANDS,
  Pluginary,
  ProgressValue,
  ScanJob,
  Settings,
  describeError,
  initializationOptions,
  isCancelled,
  pedalboardSnippet,
  progressIncrements,
  renderPlugin,
  scanParams,
  searchItem,
  searchParams,
  statusBar,
  summaryText,
} from './core';
import { PluginSummary } from './protocol';

const SCHEME = 'pluginary';

let client: LanguageClient | undefined;
let pluginary: Pluginary;
let running: ScanJob | undefined;
let selected: PluginSummary | undefined;

function settings(): Settings {
  const config = vscode.workspace.getConfiguration('pluginary');
  const home = (path: string) => path.replace(/^~(?=$|\/)/, os.homedir());
  return {
    serverPath: home(config.get('server.path', 'pluginary')),
    serverArgs: config.get('server.args', ['serve']),
    cacheDir: home(config.get('cacheDir', '')),
    folders: config.get<string[]>('folders', []).map(home),
    onlyFolders: config.get('onlyFolders', false),
    workers: config.get('workers', null),
    timeoutSeconds: config.get('timeoutSeconds', null),
    audioCheck: config.get('audioCheck', true),
  };
}

export function activate(context: vscode.ExtensionContext): void {
  const current = settings();
  const server: Executable = { command: current.serverPath, args: current.serverArgs };
  client = new LanguageClient('pluginary', 'Pluginary', server, {
    documentSelector: [],
    initializationOptions: initializationOptions(current),
  });
  pluginary = new Pluginary(client);
  const ready = client.start().catch((error) => {
    const command = [current.serverPath, ...current.serverArgs].join(' ');
    throw new Error(`could not start "${command}" (see the pluginary.server settings): ${error}`);
  });

  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left);
  item.command = COMMANDS.search;
  const refresh = async () => {
    Object.assign(item, statusBar(await pluginary.status()));
    item.show();
  };
  const documents = new PluginDocuments();

  const handlers: Record<keyof typeof COMMANDS, (...args: any[]) => unknown> = {
    scan: () => runScan('Scanning plugins', (progress) => pluginary.scan(scanParams(settings()), progress)),
    resume: () => runScan('Resuming the scan', (progress) => pluginary.resume(progress)),
    cancel: () =>
      running ? running.cancel() : vscode.window.showInformationMessage('Pluginary: no scan is running.'),
    search: async () => {
      const plugin = await pickPlugin();
      if (plugin) await showPlugin(plugin, documents);
    },
    show: async (id?: string) => {
      const plugin = id ? await pluginary.plugin(id) : await pickPlugin();
      if (plugin) await showPlugin(plugin, documents);
    },
    copySnippet: async () => {
      const plugin = selected ?? (await pickPlugin());
      if (!plugin) return;
      await vscode.env.clipboard.writeText(pedalboardSnippet(plugin));
      vscode.window.setStatusBarMessage(`Pluginary: copied the line that loads ${plugin.name}`, 3000);
    },
  };
  for (const [name, handler] of Object.entries(handlers)) {
    const command = COMMANDS[name as keyof typeof COMMANDS];
    context.subscriptions.push(vscode.commands.registerCommand(command, catching(ready, handler)));
  }
  context.subscriptions.push(
    item,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, documents),
    pluginary.onCatalogChanged(() => void refresh()),
  );
  void catching(ready, refresh)();
}

export function deactivate(): Thenable<void> | undefined {
  running?.cancel();
  return client?.stop();
}

/** The handler, once the sidecar is up; its errors shown as messages. */
function catching(ready: Promise<void>, handler: (...args: any[]) => unknown) {
  return async (...args: any[]) => {
    try {
      await ready;
      await handler(...args);
    } catch (error) {
      void vscode.window.showErrorMessage(describeError(error));
    }
  };
}

/** A scan or resume in VS Code's progress notification, whose cancel button stops it. */
async function runScan(title: string, start: (progress: (value: ProgressValue) => void) => ScanJob) {
  if (running) {
    void vscode.window.showInformationMessage('Pluginary: a scan is already running.');
    return;
  }
  const options = { location: vscode.ProgressLocation.Notification, title, cancellable: true };
  await vscode.window.withProgress(options, async (progress, cancelButton) => {
    const job = start(progressIncrements((step) => progress.report(step)));
    running = job;
    const subscription = cancelButton.onCancellationRequested(() => job.cancel());
    try {
      void vscode.window.showInformationMessage(summaryText(await job.result));
    } catch (error) {
      const show = isCancelled(error) ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
      void show(describeError(error));
    } finally {
      subscription.dispose();
      running = undefined;
    }
  });
}

/** A QuickPick fed by pluginary/query as the user types. */
function pickPlugin(): Promise<PluginSummary | undefined> {
  const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { plugin: PluginSummary }>();
  pick.placeholder = 'Search plugins by name, vendor, category or parameter; filter with ch:2 latency:0 audio:ok';
  pick.matchOnDescription = pick.matchOnDetail = true;
  let pending: vscode.CancellationTokenSource | undefined;
  const update = async (text: string) => {
    pending?.cancel();
    const source = (pending = new vscode.CancellationTokenSource());
    pick.busy = true;
    try {
      const page = await pluginary.query({ ...searchParams(text), limit: 100 }, source.token);
      if (!source.token.isCancellationRequested) {
        // The sidecar did the matching (also on parameter names), so every result is shown.
        pick.items = page.plugins.map((plugin) => ({ ...searchItem(plugin), plugin, alwaysShow: true }));
      }
    } catch (error) {
      if (!source.token.isCancellationRequested) pick.items = [];
    } finally {
      if (pending === source) pick.busy = false;
    }
  };
  return new Promise((resolve) => {
    pick.onDidChangeValue((text) => void update(text));
    pick.onDidAccept(() => {
      resolve(pick.selectedItems[0]?.plugin);
      pick.hide();
    });
    pick.onDidHide(() => {
      resolve(undefined);
      pending?.cancel();
      pick.dispose();
    });
    pick.show();
    void update('');
  });
}

async function showPlugin(plugin: PluginSummary, documents: PluginDocuments) {
  selected = plugin;
  const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${plugin.name}.md`, query: plugin.id });
  documents.changed.fire(uri);
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(document, { preview: true });
}

/** Read-only `pluginary:` documents: one plugin's metadata and parameter table, in Markdown. */
class PluginDocuments implements vscode.TextDocumentContentProvider {
  readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    return renderPlugin(await pluginary.plugin(uri.query));
  }
}
