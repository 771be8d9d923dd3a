// Writes services/<name>/Dockerfile from the one template,
// infra/docker/service.Dockerfile, filling in the service name, its port and
// the CMD. Run after editing the template:
//   node infra/docker/render-dockerfiles.ts          (write the six files)
//   node infra/docker/render-dockerfiles.ts --check  (exit 1 if any is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The port each service listens on, inside containers and in Kubernetes. */
export const SERVICE_PORTS = {
  gateway: 8080,
  identity: 8081,
  governance: 8082,
  work: 8083,
  collab: 8084,
  notify: 8085,
} as const;

export type ServiceName = keyof typeof SERVICE_PORTS;

export const SERVICE_NAMES = Object.keys(SERVICE_PORTS) as ServiceName[];

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const templatePath = path.join(repoRoot, 'infra/docker/service.Dockerfile');

export function dockerfilePath(service: ServiceName): string {
  return path.join(repoRoot, 'services', service, 'Dockerfile');
}

const TEMPLATE_CMD = 'CMD ["node", "services/${SERVICE}/src/main.ts"]';

/** Replaces every line equal to `from`; throws unless it occurs `expected` times. */
function replaceLines(lines: string[], from: string, to: string, expected: number): string[] {
  const found = lines.filter((line) => line === from).length;
  if (found !== expected) {
    throw new Error(`template must contain "${from}" ${expected} time(s), found ${found}`);
  }
  return lines.map((line) => (line === from ? to : line));
}

export function renderDockerfile(template: string, service: ServiceName): string {
  let lines = template.split('\n');
  // Both stages declare SERVICE; only the runtime stage needs PORT.
  lines = replaceLines(lines, 'ARG SERVICE', `ARG SERVICE=${service}`, 2);
  lines = replaceLines(lines, 'ARG PORT', `ARG PORT=${SERVICE_PORTS[service]}`, 1);
  lines = replaceLines(lines, TEMPLATE_CMD, `CMD ["node", "services/${service}/src/main.ts"]`, 1);
  const [syntaxLine = '', ...rest] = lines;
  // The `# syntax=` parser directive has to stay on the first line.
  return [
    syntaxLine,
    `# GENERATED for "${service}" from infra/docker/service.Dockerfile — edit that, then re-render.`,
    ...rest,
  ].join('\n');
}

function main(check: boolean): number {
  const template = readFileSync(templatePath, 'utf8');
  let stale = 0;
  for (const service of SERVICE_NAMES) {
    const target = dockerfilePath(service);
    const wanted = renderDockerfile(template, service);
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // a missing file is simply stale
    }
    if (current === wanted) continue;
    stale += 1;
    const relative = path.relative(repoRoot, target);
    if (check) {
      console.error(`${relative} is out of date`);
    } else {
      writeFileSync(target, wanted);
      console.log(`wrote ${relative}`);
    }
  }
  return check && stale > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.includes('--check'));
}
