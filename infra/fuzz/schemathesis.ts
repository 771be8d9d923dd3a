// Schemathesis (the property-based API fuzzer, a Python tool) in a virtualenv in the cache, the
// way infra/local/ provisions Kafka and FerretDB: built once per machine into a temp dir that is
// renamed into place, keyed by version, reused by every clone.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { buildIntoCache, cachePath } from '../local/cache.ts';
import { env, paths } from '../local/config.ts';
import { step, UserError, type Progress } from '../local/log.ts';
import { run, tail } from '../local/proc.ts';

const requirements = join(import.meta.dirname, 'requirements.txt');

/** The pinned version in requirements.txt, the one place it is written. */
export const SCHEMATHESIS_VERSION = (() => {
  const pin = /^schemathesis==(\S+)$/m.exec(readFileSync(requirements, 'utf8'));
  if (!pin?.[1]) throw new Error(`${requirements} pins no schemathesis version`);
  return pin[1];
})();

const CACHE_ENTRY = `schemathesis-${SCHEMATHESIS_VERSION}`;
/**
 * The venv's interpreter. Its console scripts (`bin/schemathesis`) keep the temp dir's path in their
 * shebang after the rename, so the tool is always run as `python -m schemathesis.cli`.
 */
const python = cachePath(CACHE_ENTRY, 'bin', 'python');

/** Schemathesis 4 needs Python 3.11+. FUZZ_PYTHON names one; else the first of these that runs. */
const PYTHON_CANDIDATES = ['python3', 'python3.13', 'python3.12', 'python3.11'];

async function findPython(): Promise<string> {
  const given = env('FUZZ_PYTHON');
  for (const candidate of given ? [given] : PYTHON_CANDIDATES) {
    const output: string[] = [];
    // A pyenv shim exists for every version but fails for those not installed: try each.
    const code = await run(candidate, ['-c', 'import sys; print(sys.version_info >= (3, 11))'], {
      onLine: (line) => output.push(line),
    }).catch(() => 1);
    if (code === 0 && output.includes('True')) return candidate;
  }
  throw new UserError(
    `schemathesis ${SCHEMATHESIS_VERSION} needs Python 3.11 or newer with the venv module: ` +
      `none of ${given ?? PYTHON_CANDIDATES.join(', ')} is one (set FUZZ_PYTHON to its path)`,
  );
}

async function provision(progress: Progress): Promise<void> {
  const interpreter = await findPython();
  const log = paths.log('provision-schemathesis');
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, '');
  const runLogged = async (command: string, args: string[], what: string): Promise<void> => {
    const code = await run(command, args, {
      onLine: (line) => {
        appendFileSync(log, `${line}\n`);
        const collecting = /^Collecting (\S+)/.exec(line);
        if (collecting) progress(`collecting ${collecting[1]}`);
        if (/^(Successfully installed|ERROR)/.test(line)) console.log(`  pip │ ${line}`);
      },
    });
    if (code !== 0)
      throw new UserError(`${what} failed (exit ${code}); last lines of ${log}:\n${tail(log, 30)}`);
  };
  console.log(`  pip │ installing schemathesis ${SCHEMATHESIS_VERSION} with ${interpreter} (≈30 s)…`);
  await buildIntoCache(CACHE_ENTRY, async (dir) => {
    progress('creating the virtualenv');
    await runLogged(interpreter, ['-m', 'venv', dir], `${interpreter} -m venv`);
    await runLogged(
      join(dir, 'bin', 'python'),
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', requirements],
      'pip install',
    );
  });
}

/** Installs schemathesis into the cache unless it is there; returns the command that runs it. */
export async function provisionSchemathesis(): Promise<string[]> {
  if (existsSync(python)) {
    console.log(`✓ schemathesis ${SCHEMATHESIS_VERSION} (cache ${cachePath(CACHE_ENTRY)})`);
  } else {
    await step(`provision schemathesis ${SCHEMATHESIS_VERSION}`, provision);
  }
  return [python, '-m', 'schemathesis.cli'];
}
