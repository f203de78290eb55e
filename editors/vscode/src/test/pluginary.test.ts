// The extension's logic (core.ts) against the real sidecar and the real plugins, over
// vscode-jsonrpc, the library LanguageClient is built on.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  COMMANDS,
  Pluginary,
  ProgressValue,
  describeError,
  initializationOptions,
  isCancelled,
  parameterRange,
  pedalboardSnippet,
  progressIncrements,
  renderPlugin,
  scanParams,
  searchItem,
  searchParams,
  statusBar,
} from '../core';
import { CatalogChanged, PluginRecord } from '../protocol';
import { Sidecar, pluginFolder, startSidecar } from './sidecar';

const plugins = pluginFolder();
const hang = process.env.PLUGINARY_TEST_HANG; // A folder holding a bundle that hangs forever.
const python = process.env.PLUGINARY_TEST_PYTHON;

describe('the extension against the real sidecar', { timeout: 90_000 }, () => {
  let sidecar: Sidecar;
  let pluginary: Pluginary;
  let cache: string;
  const changes: CatalogChanged[] = [];

  before(async () => {
    assert.ok(fs.existsSync(plugins), `no plugin fixtures at ${plugins} (run scripts/fetch-plugins)`);
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'pluginary-vscode-'));
    sidecar = await startSidecar({ cacheDir: cache, workers: 2 });
    pluginary = new Pluginary(sidecar.connection);
    pluginary.onCatalogChanged((change) => changes.push(change));
  });

  after(async () => {
    if (sidecar) assert.equal(await sidecar.stop(), 0, sidecar.stderr.join(''));
    fs.rmSync(cache, { recursive: true, force: true });
  });

  test('initialize names the server and its methods', () => {
    const result = sidecar.initializeResult;
    assert.equal(result.serverInfo.name, 'pluginary');
    const methods: string[] = result.capabilities.experimental.pluginary.methods;
    for (const method of ['scan', 'resume', 'query', 'plugin', 'status']) {
      assert.ok(methods.includes(`pluginary/${method}`), method);
    }
  });

  test('scan reports work-done progress VS Code can show, then fills the catalogue', async () => {
    const values: ProgressValue[] = [];
    let increments = 0;
    const toVsCode = progressIncrements((step) => (increments += step.increment ?? 0));
    const job = pluginary.scan({ folders: [plugins], onlyFolders: true }, (value) => {
      values.push(value);
      toVsCode(value);
    });
    const summary = await job.result;

    const bundles = fs.readdirSync(plugins).filter((name) => name.endsWith('.vst3'));
    assert.equal(summary.discovered, bundles.length);
    assert.ok(summary.ok > 0);
    assert.deepEqual(values[0], { ...values[0], kind: 'begin', cancellable: true });
    assert.equal(values.at(-1)?.kind, 'end');
    assert.ok(values.some((value) => value.kind === 'report' && /\d+\/\d+ .+: ok/.test(value.message ?? '')));
    assert.equal(increments, 100);
    assert.ok(changes.length === 1 && changes[0].added.length === summary.ok + summary.failed);

    const bar = statusBar(await pluginary.status());
    assert.equal(bar.text, `$(plug) ${summary.ok + summary.failed}`);
    assert.match(bar.tooltip, new RegExp(`${summary.ok} ok`));
  });

  test('search gives QuickPick items as the user types', async () => {
    for (const [typed, expected] of [
      ['reverb', 'Dragonfly Hall Reverb'], // the category matches
      ['dragonfly pla', 'Dragonfly Plate Reverb'], // a word matches inside words, as typed so far
      ['stack', 'ZamTube'], // a parameter name (Tone Stack Model) matches
    ]) {
      const page = await pluginary.query({ text: typed, limit: 100 });
      const labels = page.plugins.map((plugin) => searchItem(plugin).label);
      assert.ok(labels.includes(expected), `${typed}: ${labels}`);
    }
    const [item] = (await pluginary.query({ text: 'zamcomp' })).plugins.map(searchItem);
    assert.match(item.description, /Zammit/);
    assert.match(item.detail, /Dynamics.* · effect · \d+ parameters · 1 ch · latency 0 smp$/);
  });

  test('search items show channels, latency and a failed audio check', async () => {
    const { plugins } = await pluginary.query({ limit: 100 });
    const detail = Object.fromEntries(plugins.map((plugin) => [plugin.name, searchItem(plugin).detail]));
    assert.match(detail['Dragonfly Hall Reverb'], /· 2 ch · latency 0 smp$/);
    // ZamEQ2 writes NaN at its defaults; the failed plugins were never checked.
    assert.match(detail['ZamEQ2'], /· 1 ch · latency 0 smp · \$\(warning\) audio check failed$/);
    assert.equal(detail['ZamVerb'], '0 parameters · failed');
  });

  test('the search box filters on channels, latency and the audio check', async () => {
    assert.deepEqual(searchParams(' dragonfly  ch:2 latency:0 audio:ok '), {
      text: 'dragonfly',
      channels: 2,
      maxLatency: 0,
      audioOk: true,
    });
    assert.deepEqual(searchParams('ch:3 audio:failed'), { text: 'ch:3', audioOk: false });
    const names = async (typed: string) =>
      (await pluginary.query({ ...searchParams(typed), limit: 100 })).plugins.map((plugin) => plugin.name);
    assert.deepEqual(await names('reverb ch:2 latency:0 audio:ok'), [
      'Dragonfly Early Reflections',
      'Dragonfly Hall Reverb',
      'Dragonfly Plate Reverb',
      'Dragonfly Room Reverb',
    ]);
    const mono = await names('ch:1 audio:ok');
    assert.ok(mono.includes('ZamComp') && !mono.includes('ZamEQ2') && !mono.includes('ZamCompX2'), `${mono}`);
    assert.deepEqual(await names('audio:failed'), ['ZamEQ2']);
  });

  let plate: PluginRecord;

  test('show renders the parameter table: name, units, range, default, values', async () => {
    const [summary] = (await pluginary.query({ text: 'Dragonfly Plate Reverb' })).plugins;
    plate = await pluginary.plugin(summary.id);
    const text = renderPlugin(plate);
    const rows = text.split('\n').filter((line) => line.startsWith('| '));
    assert.equal(rows.length, plate.parameters.length + 2); // and the header and its rule
    assert.match(rows[0], /^\| Name +\| Units +\| Range +\| Default +\| Values +\| Texts at 0 … 1 +\|$/);
    const algorithm = /^\| Algorithm .*\| Nested +\| Simple, Nested, Tank +\| Simple · Nested · Nested · Tank · Tank +\|$/;
    assert.ok(rows.some((row) => algorithm.test(row)), text);
    const dry = /^\| Dry Level +\| % +\| 0 … 100 step .*\| 0\.0+ · 25\.0+ · 50\.0+ · 75\.0+ · 100\.0+ +\|$/;
    assert.ok(rows.some((row) => dry.test(row)), text);
    assert.match(text, /- \*\*Vendor:\*\* Michael Willis/);
  });

  test('show renders what a host must know before inserting the plugin', async () => {
    const facts = (record: PluginRecord) =>
      Object.fromEntries([...renderPlugin(record).matchAll(/^- \*\*([^:]+):\*\* (.*)$/gm)].map((m) => [m[1], m[2]]));
    const plateFacts = facts(plate);
    assert.equal(plateFacts['Channels'], '2');
    assert.equal(plateFacts['Latency'], '0 samples');
    assert.match(plateFacts['Audio check'], /^ok, peak 0\.\d+$/);
    assert.match(plateFacts['State'], /^round-trips \(\d+ bytes\)$/);
    assert.match(plateFacts['Probe ms'], /^load \d+\.\d, parameters \d+\.\d, audio \d+\.\d$/);

    const record = async (text: string) => pluginary.plugin((await pluginary.query({ text })).plugins[0].id);
    const comp = facts(await record('zamcomp'));
    assert.equal(comp['Channels'], '1'); // ZamComp is mono
    assert.equal(comp['Latency'], '0 samples');
    const eq = facts(await record('zameq2'));
    assert.equal(eq['Audio check'], 'FAILED: the output holds NaN or infinity');
    // A plugin that never loaded was never checked: no such lines.
    const verb = facts(await record('zamverb'));
    assert.equal(verb['Status'], 'failed');
    assert.deepEqual(['Channels', 'Latency', 'Audio check', 'State', 'Probe ms'].filter((label) => label in verb), []);

    // No real plugin has an unusable range: flag one of the plate's.
    const dry = plate.parameters.find((p) => p.name === 'Dry Level')!;
    assert.match(parameterRange({ ...dry, rangeProblem: 'degenerate' }), /^0 … 100 step .* ⚠ degenerate \(min = max\)$/);
    const flagged = { ...plate, parameters: [{ ...dry, rangeProblem: 'suspectSteps' as const }] };
    assert.match(renderPlugin(flagged), /\| Dry Level +\| % +\| 0 … 100 .*⚠ suspect steps/);
  });

  test('the pedalboard snippet loads the plugin in Python', { skip: !python && 'PLUGINARY_TEST_PYTHON unset' }, () => {
    const snippet = pedalboardSnippet(plate);
    assert.equal(snippet, `plugin = pedalboard.load_plugin(${JSON.stringify(plate.path)})`);
    const script = `import pedalboard\n${snippet}\nprint(plugin.name)`;
    const printed = execFileSync(python!, ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(printed.trim().split('\n').at(-1), plate.name);
  });

  test('an unknown plugin is an error the user can read', async () => {
    await assert.rejects(pluginary.plugin('vst3.nope.00000000'), (error) => {
      assert.match(describeError(error), /no plugin with id 'vst3.nope.00000000'/);
      return true;
    });
  });

  test('resume with nothing interrupted says so', async () => {
    await assert.rejects(pluginary.resume().result, (error) => {
      assert.equal(describeError(error), 'Pluginary: there is no interrupted scan to resume.');
      return true;
    });
  });

  test('cancel stops a scan resumably; resume finishes it', { skip: !hang && 'PLUGINARY_TEST_HANG unset' }, async () => {
    // The real bundles are unchanged, so the one bundle probed is the one that hangs.
    const seen: ProgressValue[] = [];
    let reported: () => void;
    const firstReport = new Promise<void>((resolve) => (reported = resolve));
    const job = pluginary.scan({ folders: [plugins, hang!], onlyFolders: true, timeoutSeconds: 2 }, (value) => {
      seen.push(value);
      if (value.kind === 'report') reported();
    });
    await firstReport;

    // A second scan meanwhile is refused, naming the owner.
    await assert.rejects(pluginary.scan({ folders: [plugins], onlyFolders: true }).result, (error) => {
      assert.match(describeError(error), /another scan is running \(pid \d+ on /);
      return true;
    });

    job.cancel();
    await assert.rejects(job.result, (error) => isCancelled(error));
    const status = await pluginary.status();
    assert.ok(status.interrupted, 'the cancelled scan is resumable');
    assert.match(statusBar(status).tooltip, /can be resumed/);

    // The resume keeps the scan's own 2 s timeout: the hanging bundle times out.
    const values: ProgressValue[] = [];
    const summary = await pluginary.resume((value) => values.push(value)).result;
    assert.equal(summary.timedOut, 1);
    assert.equal(values.at(-1)?.kind, 'end');
    assert.equal((await pluginary.status()).interrupted, null);
    assert.ok(seen.length >= 2);
  });
});

describe('the audioCheck setting', { timeout: 90_000 }, () => {
  test('off, it reaches the sidecar and scans leave the audio facts unknown', async () => {
    const settings = {
      serverPath: 'pluginary',
      serverArgs: ['serve'],
      cacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'pluginary-vscode-')),
      folders: [plugins],
      onlyFolders: true,
      workers: 2,
      timeoutSeconds: null,
      audioCheck: false,
    };
    const options = initializationOptions(settings);
    assert.equal(options.audioCheck, false);
    assert.equal(initializationOptions({ ...settings, audioCheck: true }).audioCheck, undefined);
    const sidecar = await startSidecar(options);
    try {
      const pluginary = new Pluginary(sidecar.connection);
      await pluginary.scan(scanParams(settings)).result;
      const comp = (await pluginary.query({ text: 'ZamComp' })).plugins[0];
      assert.equal(comp.status, 'ok');
      assert.equal(comp.channels, null);
      assert.equal(comp.audioOk, null);
    } finally {
      assert.equal(await sidecar.stop(), 0, sidecar.stderr.join(''));
      fs.rmSync(settings.cacheDir, { recursive: true, force: true });
    }
  });
});

describe('package.json', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));

  test('contributes exactly the commands the extension registers', () => {
    const contributed = manifest.contributes.commands.map((command: { command: string }) => command.command);
    assert.deepEqual(contributed.sort(), Object.values(COMMANDS).sort());
  });

  test('declares every setting the extension reads', () => {
    const source = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'extension.ts'), 'utf8');
    const read = [...source.matchAll(/config\.get(?:<[^>]+>)?\('([\w.]+)'/g)].map((match) => `pluginary.${match[1]}`);
    assert.deepEqual(read.sort(), Object.keys(manifest.contributes.configuration.properties).sort());
  });
});
