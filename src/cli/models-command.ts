import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { ChorusError } from '../errors.js';
import { MODELS_USAGE } from './usage.js';
import type { CatalogueEntry } from '../models/catalog.js';
import { checkModel } from '../engines/sherpa/model-check.js';
import { DEFAULT_MODEL_CHECKS, importModel, listCatalogue, listInstalled, pull, remove, type ModelManagerOptions, type ProgressPhase } from '../models/model-manager.js';

/** `chorus models …`: exit 0 on success, 1 on any error (message on stderr), 130 when interrupted. */
export async function modelsCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const config = loadConfig();
  const controller = new AbortController();
  const onSigint = () => controller.abort(new ChorusError({ code: 'aborted', message: 'Interrupted.' }));
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  const base = {
    modelsDir: config.modelsDir,
    catalogue: config.modelCatalog,
    hfEndpoint: config.hfEndpoint,
    hfToken: config.hfToken,
    // sherpa-onnx exits the process on metadata it cannot read: such a model is refused before it is installed.
    checks: [...DEFAULT_MODEL_CHECKS, async (manifest, dir) => void (await checkModel(manifest, dir))],
    signal: controller.signal,
    onNotice: (message: string) => process.stderr.write(`chorus: ${message}\n`),
  } satisfies ModelManagerOptions;
  try {
    switch (action) {
      case 'list':
        return await listAction(rest, base);
      case 'pull':
        return await pullAction(rest, base);
      case 'import':
        return await importAction(rest, base);
      case 'rm':
      case 'remove': {
        const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
        const name = oneName(positionals, 'NAME', 'chorus models rm NAME');
        const dir = await remove(config.modelsDir, name);
        process.stdout.write(`Removed ${name} (${dir}).\n`);
        return 0;
      }
      default:
        process.stderr.write(`${action === undefined ? '' : `Unknown models command '${action}'.\n\n`}Usage:\n${MODELS_USAGE}`);
        return 1;
    }
  } catch (error) {
    if (controller.signal.aborted) {
      process.stderr.write(`\nchorus: interrupted; nothing was installed. A partial download is kept in ${config.modelsDir}/.downloads and the same command resumes it.\n`);
      return 130;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

async function pullAction(args: string[], base: ModelManagerOptions): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { force: { type: 'boolean', default: false }, quiet: { type: 'boolean', short: 'q', default: false }, source: { type: 'string' } },
  });
  const name = oneName(positionals, 'NAME', 'chorus models pull NAME');
  if (values.source !== undefined && values.source !== 'archive' && values.source !== 'huggingface') {
    throw new ChorusError({ code: 'invalid_request', param: '--source', message: `--source must be archive or huggingface, got '${values.source}'.` });
  }
  const progress = new ProgressDisplay(values.quiet);
  const result = await pull(name, {
    ...base,
    force: values.force,
    ...(values.source === undefined ? {} : { source: values.source }),
    onProgress: (phase, label, done, total) => progress.update(phase, label, done, total),
  }).finally(() => progress.finish());
  if (result.status === 'already-installed') {
    process.stdout.write(`${name} is already installed in ${result.dir} (--force downloads and replaces it).\n`);
    return 0;
  }
  process.stdout.write(`Installed ${result.manifest!.name} (${result.manifest!.family}) in ${result.dir}.\n`);
  return 0;
}

async function importAction(args: string[], base: ModelManagerOptions): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      family: { type: 'string' },
      force: { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  const path = oneName(positionals, 'PATH', 'chorus models import PATH');
  const progress = new ProgressDisplay(values.quiet);
  const result = await importModel(path, {
    ...base,
    force: values.force,
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(values.family === undefined ? {} : { family: values.family }),
    onProgress: (phase, label, done, total) => progress.update(phase, label, done, total),
  }).finally(() => progress.finish());
  process.stdout.write(`Installed ${result.manifest!.name} (${result.manifest!.family}) in ${result.dir}.\n`);
  return 0;
}

async function listAction(args: string[], base: ModelManagerOptions): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  const [catalogue, { models, broken }] = await Promise.all([listCatalogue(base.catalogue), listInstalled(base.modelsDir)]);
  const installed = new Map(models.map((model) => [model.name, model]));
  if (values.json) {
    const report = {
      modelsDir: base.modelsDir,
      installed: models.map((model) => ({ ...model.manifest, dir: model.dir, sizeBytes: model.sizeBytes })),
      broken,
      catalogue: catalogue.map((entry) => ({ ...entry, installed: installed.has(entry.name), downloadBytes: downloadBytes(entry) })),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const rows = catalogue.map((entry) => {
    const local = installed.get(entry.name);
    return [
      local ? 'installed' : '',
      entry.name,
      entry.family,
      local ? formatBytes(local.sizeBytes) : formatBytes(downloadBytes(entry)),
      String(entry.voices.count),
      entry.languages.join(' '),
      hasChecksums(entry) ? 'sha256' : 'none',
      entry.license,
    ];
  });
  for (const model of models.filter((candidate) => !catalogue.some((entry) => entry.name === candidate.name))) {
    const manifest = model.manifest;
    rows.push(['installed', model.name, manifest.family, formatBytes(model.sizeBytes), '?', manifest.languages.join(' ') || '?', manifest.source === 'import' ? 'imported' : '', manifest.license]);
  }
  printTable(['', 'NAME', 'FAMILY', 'SIZE', 'VOICES', 'LANGUAGES', 'CHECKSUM', 'LICENCE'], rows);
  for (const entry of catalogue.filter((candidate) => candidate.licenseNote !== undefined)) process.stdout.write(`\n${entry.name}: ${entry.licenseNote}\n`);
  for (const model of broken) process.stdout.write(`\n${model.name}: not usable, ${model.problem}\n`);
  process.stdout.write(
    `\nModels directory: ${base.modelsDir}. SIZE is the download for models not installed (? = not published) and the space used for installed ones. CHECKSUM none = installed on trust, digest recorded at first download.\n`,
  );
  return 0;
}

function downloadBytes(entry: CatalogueEntry): number | undefined {
  const source = entry.sources[0]!;
  if (source.type === 'archive') return source.size;
  const sizes = source.files.map((file) => file.size);
  return sizes.every((size) => size !== undefined) ? sizes.reduce((sum, size) => sum + size!, 0) : undefined;
}

function hasChecksums(entry: CatalogueEntry): boolean {
  const source = entry.sources[0]!;
  return source.type === 'archive' ? source.sha256 !== undefined : source.files.every((file) => file.sha256 !== undefined);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  process.stdout.write(`${[header, ...rows].map(line).join('\n')}\n`);
}

function oneName(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw new ChorusError({ code: 'invalid_request', param: what, message: `Usage: ${usage}` });
  return positionals[0]!;
}

function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '?';
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(0)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Progress on stderr: a bar redrawn in place on a terminal; otherwise (logs, CI, pipes) a plain
 * line every 10% or 5 s; nothing with --quiet.
 */
class ProgressDisplay {
  private readonly tty = process.stderr.isTTY === true;
  private lastDraw = 0;
  private lastDecile = -1;
  private current: string | undefined;
  private started = Date.now();

  constructor(private readonly quiet: boolean) {}

  update(phase: ProgressPhase, label: string, done: number, total: number | undefined): void {
    if (this.quiet) return;
    const key = `${phase} ${label}`;
    if (key !== this.current) {
      if (this.tty && this.current !== undefined) process.stderr.write('\n');
      this.current = key;
      this.started = Date.now();
      this.lastDecile = -1;
      this.lastDraw = 0;
      if (phase === 'install') {
        process.stderr.write(`checking and installing ${label}\n`);
        return;
      }
    }
    const now = Date.now();
    const fraction = total !== undefined && total > 0 ? Math.min(1, done / total) : undefined;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const verb = phase === 'download' ? 'downloading' : phase === 'extract' ? 'unpacking' : 'verifying';
    const amount = `${formatBytes(done)}${total === undefined ? '' : ` of ${formatBytes(total)}`}, ${formatBytes(done / seconds)}/s`;
    if (this.tty) {
      if (now - this.lastDraw < 100 && fraction !== 1) return;
      this.lastDraw = now;
      const width = 24;
      const bar = fraction === undefined ? '' : `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '-')}] ${(fraction * 100).toFixed(0).padStart(3)}% `;
      process.stderr.write(`\r\x1b[2K${verb} ${label} ${bar}${amount}`);
      return;
    }
    const decile = fraction === undefined ? -1 : Math.floor(fraction * 10);
    if (decile > this.lastDecile || now - this.lastDraw >= 5000) {
      this.lastDecile = Math.max(decile, this.lastDecile);
      this.lastDraw = now;
      process.stderr.write(`${verb} ${label}: ${fraction === undefined ? '' : `${(fraction * 100).toFixed(0)}%, `}${amount}\n`);
    }
  }

  finish(): void {
    if (this.tty && this.current !== undefined && !this.quiet) process.stderr.write('\n');
    this.current = undefined;
  }
}
