// Everything the extension does that is not VS Code UI: requests, progress, rendering.
// It needs only a JSON-RPC connection, so the tests drive it through vscode-jsonrpc against the
// real sidecar, and the extension through vscode-languageclient's LanguageClient.

import {
  CancellationToken,
  CancellationTokenSource,
  Disposable,
  ProgressType,
  ResponseError,
} from 'vscode-jsonrpc';
import {
  AudioCheck,
  CatalogChanged,
  ChannelCount,
  ErrorCode,
  InitializationOptions,
  Method,
  Parameter,
  PluginRecord,
  PluginState,
  PluginSummary,
  QueryParams,
  QueryResult,
  ScanParams,
  ScanSummary,
  Status,
} from './protocol';

/** What LanguageClient and vscode-jsonrpc's MessageConnection both offer. */
export interface Connection {
  sendRequest<R>(method: string, param: unknown, token?: CancellationToken): Promise<R>;
  onNotification(method: string, handler: (params: any) => void): Disposable;
  onProgress<P>(type: ProgressType<P>, token: string | number, handler: (params: P) => void): Disposable;
}

export type ProgressValue =
  | { kind: 'begin'; title: string; cancellable?: boolean; message?: string; percentage?: number }
  | { kind: 'report'; cancellable?: boolean; message?: string; percentage?: number }
  | { kind: 'end'; message?: string };

const workDone = new ProgressType<ProgressValue>();

/** The extension's commands; package.json contributes exactly these. */
export const COMMANDS = {
  scan: 'pluginary.scan',
  resume: 'pluginary.resume',
  cancel: 'pluginary.cancelScan',
  search: 'pluginary.search',
  show: 'pluginary.showPlugin',
  copySnippet: 'pluginary.copySnippet',
} as const;

/** A scan or resume under way: its progress token, its result, and a way to stop it. */
export interface ScanJob {
  token: string;
  result: Promise<ScanSummary>;
  /** Sends $/cancelRequest; the result then rejects with RequestCancelled. */
  cancel(): void;
}

let nextToken = 0;

/** The sidecar's requests, typed. */
export class Pluginary {
  constructor(readonly connection: Connection) {}

  scan(params: ScanParams, onProgress?: (value: ProgressValue) => void): ScanJob {
    return this.start(Method.scan, params, onProgress);
  }

  resume(onProgress?: (value: ProgressValue) => void): ScanJob {
    return this.start(Method.resume, {}, onProgress);
  }

  query(params: QueryParams, token?: CancellationToken): Promise<QueryResult> {
    return this.request(Method.query, params, token);
  }

  plugin(id: string): Promise<PluginRecord> {
    return this.request(Method.plugin, { id });
  }

  status(): Promise<Status> {
    return this.request(Method.status, {});
  }

  onCatalogChanged(handler: (change: CatalogChanged) => void): Disposable {
    return this.connection.onNotification(Method.catalogChanged, handler);
  }

  private start(
    method: string,
    params: ScanParams,
    onProgress?: (value: ProgressValue) => void,
  ): ScanJob {
    const token = `pluginary-vscode-${process.pid}-${++nextToken}`;
    const source = new CancellationTokenSource();
    const subscription = onProgress && this.connection.onProgress(workDone, token, onProgress);
    const result = this.request<ScanSummary>(method, { ...params, workDoneToken: token }, source.token)
      .finally(() => {
        subscription?.dispose();
        source.dispose();
      });
    return { token, result, cancel: () => source.cancel() };
  }

  private request<R>(method: string, params: unknown, token?: CancellationToken): Promise<R> {
    // An explicit `undefined` token would be sent as a second, positional parameter.
    return token ? this.connection.sendRequest(method, params, token) : this.connection.sendRequest(method, params);
  }
}

/** Turns the protocol's absolute percentages into the increments VS Code's progress wants. */
export function progressIncrements(
  report: (step: { message?: string; increment?: number }) => void,
): (value: ProgressValue) => void {
  let reported = 0;
  return (value) => {
    if (value.kind === 'end') {
      return;
    }
    const step: { message?: string; increment?: number } = { message: value.message };
    if (typeof value.percentage === 'number') {
      step.increment = Math.max(0, Math.min(100, value.percentage) - reported);
      reported += step.increment;
    }
    report(step);
  };
}

export interface Settings {
  serverPath: string;
  serverArgs: string[];
  cacheDir: string;
  folders: string[];
  onlyFolders: boolean;
  workers: number | null;
  timeoutSeconds: number | null;
  audioCheck: boolean;
}

export function initializationOptions(settings: Settings): InitializationOptions {
  const options: InitializationOptions = {};
  if (settings.cacheDir) options.cacheDir = settings.cacheDir;
  if (settings.workers) options.workers = settings.workers;
  if (settings.timeoutSeconds) options.timeoutSeconds = settings.timeoutSeconds;
  if (!settings.audioCheck) options.audioCheck = false; // The sidecar's default is on.
  return options;
}

export function scanParams(settings: Settings): ScanParams {
  return { folders: settings.folders, onlyFolders: settings.onlyFolders && settings.folders.length > 0 };
}

export function isCancelled(error: unknown): boolean {
  return error instanceof ResponseError && error.code === ErrorCode.RequestCancelled;
}

/** A sentence for the user about a failed request. */
export function describeError(error: unknown): string {
  if (!(error instanceof ResponseError)) {
    return `Pluginary: ${error instanceof Error ? error.message : String(error)}`;
  }
  switch (error.code) {
    case ErrorCode.RequestCancelled:
      return 'Pluginary: scan cancelled; nothing is lost. Run "Pluginary: Resume Scan" to finish it.';
    case ErrorCode.ScanInProgress: {
      const owner = (error.data as { owner?: { pid?: number; host?: string } } | undefined)?.owner;
      return `Pluginary: another scan is running (pid ${owner?.pid ?? '?'} on ${owner?.host ?? '?'}).`;
    }
    case ErrorCode.NothingToResume:
      return 'Pluginary: there is no interrupted scan to resume.';
    default:
      return `Pluginary: ${error.message}`;
  }
}

export function summaryText(summary: ScanSummary): string {
  return (
    `Pluginary: ${summary.discovered} bundles found, ${summary.probed} probed in ` +
    `${(summary.durationMs / 1000).toFixed(1)} s: ${summary.ok} ok, ${summary.failed} failed, ` +
    `${summary.timedOut} timed out, ${summary.crashed} crashed.`
  );
}

/** The status-bar item's text and tooltip. */
export function statusBar(status: Status): { text: string; tooltip: string } {
  const counts = status.counts;
  const byStatus = Object.entries(counts.byStatus)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${n} ${name}`)
    .join(', ');
  const lines = [`Pluginary ${status.version}: ${counts.plugins} plugins in ${counts.bundles} bundles`];
  if (byStatus) lines.push(byStatus);
  if (status.interrupted) lines.push('An interrupted scan can be resumed.');
  return { text: `$(plug) ${counts.plugins}`, tooltip: lines.join('\n') };
}

// The ready-to-insert facts are compared with `== null`: a 1.0 sidecar leaves them out.

/** The channel counts a plugin accepts, as "2 ch" or "1/2 ch"; '' when never checked. */
export function channelsText(channels: readonly number[] | null): string {
  if (channels == null) return '';
  return channels.length > 0 ? `${channels.join('/')} ch` : 'ch: none';
}

/**
 * The Quick Pick's text as query params. `ch:N`, `latency:N` (at most N samples) and
 * `audio:ok` / `audio:failed` are filters; the other words are searched for.
 */
export function searchParams(typed: string): QueryParams {
  const params: QueryParams = {};
  const words = typed.split(/\s+/).filter((word) => {
    let match: RegExpExecArray | null;
    if ((match = /^ch:([12468])$/i.exec(word))) params.channels = Number(match[1]) as ChannelCount;
    else if ((match = /^latency:(\d+)$/i.exec(word))) params.maxLatency = Number(match[1]);
    else if ((match = /^audio:(ok|failed)$/i.exec(word))) params.audioOk = match[1].toLowerCase() === 'ok';
    else return word !== '';
    return false;
  });
  if (words.length > 0) params.text = words.join(' ');
  return params;
}

/** A QuickPick item for a plugin (the id travels along). */
export function searchItem(plugin: PluginSummary): {
  label: string;
  description: string;
  detail: string;
  id: string;
} {
  const facts = [plugin.category, plugin.kind, `${plugin.parameterCount} parameters`, channelsText(plugin.channels)];
  if (plugin.latencySamples != null) facts.push(`latency ${plugin.latencySamples} smp`);
  if (plugin.status !== 'ok') facts.push(plugin.status);
  // A plugin that loads but writes NaN or dies in process() must not look insertable.
  if (plugin.audioOk === false) facts.push('$(warning) audio check failed');
  return {
    label: plugin.name,
    description: plugin.vendor ?? '',
    detail: facts.filter(Boolean).join(' · '),
    id: plugin.id,
  };
}

/** The Python line that loads the plugin with pedalboard (as pluginary.client's load() does). */
export function pedalboardSnippet(plugin: PluginSummary): string {
  // JSON string literals are valid Python string literals.
  const multi = plugin.className !== null && plugin.className !== plugin.name;
  const name = multi ? `, plugin_name=${JSON.stringify(plugin.className)}` : '';
  return `plugin = pedalboard.load_plugin(${JSON.stringify(plugin.path)}${name})`;
}

function number(value: number, digits = 6): string {
  return String(Number(value.toPrecision(digits)));
}

const RANGE_PROBLEMS: Record<string, string> = {
  degenerate: 'degenerate (min = max)',
  unbounded: 'unbounded',
  suspectSteps: 'suspect steps (over 1,000,000)',
};

/** The range as text, flagged when no host can use it. */
export function parameterRange(parameter: Parameter): string {
  const problem = parameter.rangeProblem && `⚠ ${RANGE_PROBLEMS[parameter.rangeProblem] ?? parameter.rangeProblem}`;
  return [plainRange(parameter), problem].filter(Boolean).join(' ');
}

function plainRange(parameter: Parameter): string {
  if (parameter.type === 'bool' || parameter.boolean) return 'on/off';
  if (parameter.min === null || parameter.max === null) return '';
  const range = `${number(parameter.min)} … ${number(parameter.max)}`;
  if (parameter.step) return `${range} step ${number(parameter.step)}`;
  if (parameter.approximateStep) return `${range} step ≈${number(parameter.approximateStep, 3)}`;
  return range;
}

export function parameterValues(parameter: Parameter, limit = 20): string {
  const values = parameter.values ?? [];
  const shown = values.slice(0, limit).map(String).join(', ');
  const more = values.length > limit || parameter.valuesTruncated;
  return more ? `${shown}, … (${values.length}${parameter.valuesTruncated ? '+' : ''})` : shown;
}

/** What the plugin displays at raw 0, .25, .5, .75 and 1 (not "|": it would need escaping). */
export function parameterSamples(parameter: Parameter, separator = ' · '): string {
  return (parameter.samples ?? []).map((sample) => sample.text ?? '?').join(separator);
}

/** The parameter table's rows: name, units, range, default, enumeration values, sample texts. */
export function parameterRows(record: PluginRecord): string[][] {
  return record.parameters.map((p) => [
    p.name,
    p.units ?? '',
    parameterRange(p),
    p.defaultText ?? '',
    parameterValues(p),
    parameterSamples(p),
  ]);
}

function audioCheckText(check: AudioCheck): string {
  if (!check.ok) {
    return `FAILED: ${check.nonFinite ? 'the output holds NaN or infinity' : (check.error ?? 'no reason given')}`;
  }
  if (check.silent) return 'ok, but silent (peak under -120 dBFS)';
  return check.peak === null ? 'ok' : `ok, peak ${number(check.peak, 3)}`;
}

function stateText(state: PluginState): string {
  if (state.readable && state.writable) return `round-trips (${state.size ?? '?'} bytes)`;
  const how = state.readable ? `reads (${state.size ?? '?'} bytes) but does not write back` : 'not readable';
  return state.error ? `${how}: ${state.error}` : how;
}

/** What a host must know before inserting the plugin, as [label, text]; unmeasured facts are left out. */
export function readyFacts(record: PluginRecord): [string, string][] {
  const facts: [string, string][] = [];
  if (record.channels != null) {
    facts.push(['Channels', record.channels.length > 0 ? record.channels.join(', ') : 'none accepted']);
  }
  if (record.latencySamples != null) facts.push(['Latency', `${record.latencySamples} samples`]);
  if (record.audioCheck) facts.push(['Audio check', audioCheckText(record.audioCheck)]);
  if (record.state) facts.push(['State', stateText(record.state)]);
  const times = record.probeMs;
  if (times) {
    const spent = (['load', 'parameters', 'audio'] as const).flatMap((step) => {
      const ms = times[step];
      return ms == null ? [] : [`${step} ${ms.toFixed(1)}`];
    });
    if (spent.length > 0) facts.push(['Probe ms', spent.join(', ')]);
  }
  return facts;
}

function markdownTable(header: string[], rows: string[][]): string[] {
  const cell = (text: string) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\s+/g, ' ');
  const cells = [header, ...rows].map((row) => row.map(cell));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) => `| ${row.map((text, i) => text.padEnd(widths[i])).join(' | ')} |`;
  return [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)];
}

/** The "Show Plugin" document: metadata, ready-to-insert facts, the pedalboard line and the parameter table. */
export function renderPlugin(record: PluginRecord): string {
  const facts: [string, string | number | null][] = [
    ['Id', record.id],
    ['Vendor', record.vendor],
    ['Version', record.version],
    ['Category', record.category],
    ['Kind', record.kind],
    ['Format', record.format],
    ['Status', record.status],
    ['Error', record.error],
    ['Diagnosis', record.diagnosis],
    ['Path', record.path],
    ['Class', record.className],
  ];
  const lines = [`# ${record.name}`, ''];
  for (const [label, value] of [...facts, ...readyFacts(record)]) {
    if (value !== null && value !== '') lines.push(`- **${label}:** ${value}`);
  }
  if (record.status === 'ok') {
    lines.push('', '```python', 'import pedalboard', pedalboardSnippet(record), '```');
  }
  lines.push('', `## Parameters (${record.parameters.length})`, '');
  if (record.parameters.length > 0) {
    const header = ['Name', 'Units', 'Range', 'Default', 'Values', 'Texts at 0 … 1'];
    lines.push(...markdownTable(header, parameterRows(record)));
  }
  if (record.status !== 'ok' && record.outputTail) {
    lines.push('', '## What it printed', '', '```', record.outputTail.trimEnd(), '```');
  }
  return lines.join('\n') + '\n';
}
