import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Local imports that load code: `import type` and `export type` vanish in JavaScript. */
const LOCAL_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\bfrom\s+)?'(\.{1,2}\/[^']+)\.js'/gm;

/**
 * The JavaScript file a worker thread runs for `entry` (a path like `./template-worker.js`,
 * relative to `from`, the caller's import.meta.url).
 *
 * Built (dist/, or the tests' and the bench's builds), that is the compiled file beside the
 * caller. From the TypeScript sources, as vitest runs them, a worker thread on Node 20 cannot
 * load `.ts`, and vitest's transform does not reach into other threads: the entry and the
 * local modules it imports are transpiled, each on its own (TypeScript's transpileModule, a
 * dev dependency, loaded only here), into node_modules/.cache under a hash of their text, so
 * packages still resolve from there and an unchanged worker is not written again. (The
 * checkpointer's thread runs `eval`'d JavaScript instead; piscina takes only files, and this
 * way the worker's code is the same TypeScript the rest of the service is.)
 */
export async function workerFile(from: string, entry: string): Promise<string> {
  const url = new URL(entry, from);
  if (!from.endsWith('.ts')) return fileURLToPath(url);
  const sources = await localModules(fileURLToPath(url).replace(/\.js$/, '.ts'));
  const root = commonDir([...sources.keys()]);
  const hash = createHash('sha256');
  for (const [file, text] of sources) hash.update(`${path.relative(root, file)}\0${text}\0`);
  const cache = path.join(nodeModulesOf(root), '.cache', 'loadnotify-workers');
  const dir = path.join(cache, hash.digest('hex').slice(0, 16));
  const target = path.join(dir, path.relative(root, fileURLToPath(url)));
  if (existsSync(target)) return target;

  const ts = (await import('typescript')).default;
  // Written beside and renamed into place: test files in other processes may do the same.
  const temp = `${dir}.${randomBytes(4).toString('hex')}`;
  for (const [file, text] of sources) {
    const out = path.join(temp, path.relative(root, file)).replace(/\.ts$/, '.js');
    await mkdir(path.dirname(out), { recursive: true });
    const js = ts.transpileModule(text, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    await writeFile(out, js.outputText);
  }
  await writeFile(path.join(temp, 'package.json'), '{"type":"module"}');
  try {
    await rename(temp, dir);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    if (!existsSync(target)) throw err;
  }
  return target;
}

/** `file` and every local module it imports, transitively, with their text. */
async function localModules(file: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const queue = [file];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    if (found.has(next)) continue;
    const text = await readFile(next, 'utf8');
    found.set(next, text);
    for (const m of text.matchAll(LOCAL_IMPORT)) queue.push(path.resolve(path.dirname(next), `${m[1]}.ts`));
  }
  return found;
}

function commonDir(files: string[]): string {
  let dir = path.dirname(files[0]!);
  while (!files.every((f) => f.startsWith(dir + path.sep))) dir = path.dirname(dir);
  return dir;
}

function nodeModulesOf(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'node_modules'))) return path.join(d, 'node_modules');
    if (path.dirname(d) === d) throw new Error(`no node_modules above ${dir}`);
  }
}
