// The Pluginary protocol's types, as protocol/pluginary.schema.json defines them (camelCase,
// every result field present, `null` for a missing value).

export type ProgressToken = string | number;

export interface InitializationOptions {
  cacheDir?: string;
  workers?: number;
  timeoutSeconds?: number;
  folders?: string[];
  audioCheck?: boolean;
}

export interface ScanParams {
  folders?: string[];
  onlyFolders?: boolean;
  rescan?: boolean;
  retryFailed?: boolean;
  workers?: number;
  timeoutSeconds?: number;
  audioCheck?: boolean;
  workDoneToken?: ProgressToken;
}

export interface ResumeParams {
  workDoneToken?: ProgressToken;
}

export interface ScanSummary {
  scanId: string;
  discovered: number;
  probed: number;
  ok: number;
  failed: number;
  timedOut: number;
  crashed: number;
  unchanged: number;
  removed: number;
  durationMs: number;
}

export type PluginStatus = 'ok' | 'failed' | 'timeout' | 'crashed';

/** The channel counts a probe tries. */
export type ChannelCount = 1 | 2 | 4 | 6 | 8;

export interface QueryParams {
  text?: string;
  vendor?: string;
  format?: string;
  category?: string;
  kind?: 'effect' | 'instrument';
  parameter?: string;
  status?: PluginStatus;
  channels?: ChannelCount;
  maxLatency?: number;
  audioOk?: boolean;
  limit?: number;
  cursor?: string;
}

export interface PluginSummary {
  id: string;
  name: string;
  vendor: string | null;
  version: string | null;
  category: string | null;
  kind: 'effect' | 'instrument' | null;
  format: string;
  status: PluginStatus;
  // As text; when the path is not UTF-8, its exact bytes are in pathBytes (base64, protocol 1.2).
  path: string;
  pathBytes: string | null;
  className: string | null;
  parameterCount: number;
  // The ready-to-insert facts (protocol 1.1); null: the audio checks did not run.
  channels: ChannelCount[] | null;
  latencySamples: number | null;
  audioOk: boolean | null;
}

export interface QueryResult {
  plugins: PluginSummary[];
  total: number;
  nextCursor: string | null;
}

export interface Parameter {
  index: number;
  name: string;
  key: string;
  units: string | null;
  type: 'float' | 'bool' | 'str' | string;
  min: number | null;
  max: number | null;
  step: number | null;
  approximateStep: number | null;
  defaultRaw: number | null;
  defaultText: string | null;
  pluginDefaultRaw: number | null;
  boolean: boolean;
  discrete: boolean;
  numSteps: number;
  automatable: boolean;
  values: unknown[] | null;
  valuesTruncated: boolean;
  rangeProblem: 'degenerate' | 'unbounded' | 'suspectSteps' | null;
  /** The display text at raw 0, .25, .5, .75 and 1. */
  samples: ParameterSample[] | null;
}

export interface ParameterSample {
  raw: number;
  value: number | boolean | string | null;
  text: string | null;
}

export interface AudioCheck {
  ok: boolean;
  peak: number | null;
  nonFinite: boolean | null;
  silent: boolean | null;
  error: string | null;
}

export interface PluginState {
  readable: boolean;
  writable: boolean;
  size: number | null;
  error: string | null;
}

export interface ProbeTimes {
  load: number | null;
  parameters: number | null;
  audio: number | null;
}

export interface PluginRecord extends PluginSummary {
  identifier: string | null;
  error: string | null;
  diagnosis: string | null;
  signal: string | null;
  exitCode: number | null;
  outputTail: string;
  durationMs: number | null;
  scanId: string;
  scannedAt: number;
  audioCheck: AudioCheck | null;
  state: PluginState | null;
  probeMs: ProbeTimes | null;
  parameters: Parameter[];
}

export interface Status {
  version: string;
  cache: { root: string; catalog: string; journal: string; ignoreList: string };
  counts: {
    plugins: number;
    bundles: number;
    byStatus: Record<string, number>;
    byKind: Record<string, number>;
  };
  running: {
    scanId: string | null;
    pid: number | null;
    host: string | null;
    done: number | null;
    total: number | null;
    message: string | null;
  } | null;
  interrupted: {
    scanId: string;
    state: 'probing' | 'settled';
    startedAt: number;
    roots: string[];
    done: number;
    total: number;
  } | null;
  lastScan: ScanSummary | null;
}

export interface CatalogChanged {
  added: string[];
  updated: string[];
  removed: string[];
}

export const Method = {
  scan: 'pluginary/scan',
  resume: 'pluginary/resume',
  query: 'pluginary/query',
  plugin: 'pluginary/plugin',
  status: 'pluginary/status',
  catalogChanged: 'pluginary/catalogChanged',
} as const;

export const ErrorCode = {
  InvalidParams: -32602,
  RequestCancelled: -32800,
  ScanInProgress: 1001,
  NothingToResume: 1002,
  PluginNotFound: 1003,
  StorageError: 1004,
} as const;
