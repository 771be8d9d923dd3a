// Static checks of the deployment files: docker-compose.yml, the service
// Dockerfiles and infra/k8s. Nothing is started — there is no Docker engine
// or cluster here — so these tests keep the files consistent with each other
// and with the services' env contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import {
  SERVICE_NAMES,
  SERVICE_PORTS,
  dockerfilePath,
  renderDockerfile,
  repoRoot,
  templatePath,
} from '../docker/render-dockerfiles.ts';
import type { ServiceName } from '../docker/render-dockerfiles.ts';
import { SERVICE_NODE_OPTIONS } from '../local/services.ts';
import type { ZodType } from 'zod';

// ---- the env contract: what each service reads at start-up

const COMMON_ENV = [
  'PORT',
  'KAFKA_BROKERS',
  'KAFKA_TOPIC_PARTITIONS',
  'LOG_LEVEL',
  'NODE_ENV',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
];

/** Gateway variable → the service it points at. */
const UPSTREAM_ENV: Record<string, ServiceName> = {
  IDENTITY_URL: 'identity',
  GOVERNANCE_URL: 'governance',
  WORK_URL: 'work',
  COLLAB_URL: 'collab',
  NOTIFY_URL: 'notify',
};

const SERVICE_ENV: Record<ServiceName, string[]> = {
  // Its database holds the rate-limit counters its replicas share.
  gateway: [...Object.keys(UPSTREAM_ENV), 'RATE_LIMIT_STORE', 'DATABASE_URL'],
  identity: ['DATABASE_URL', 'CODE_SECRET', 'KEY_ENCRYPTION_SECRET'],
  governance: ['DATABASE_URL', 'IDENTITY_URL'],
  work: ['DATABASE_URL', 'IDENTITY_URL', 'GOVERNANCE_URL'],
  collab: ['MONGO_URL', 'IDENTITY_URL', 'GOVERNANCE_URL', 'WORK_URL'],
  notify: ['MONGO_URL', 'SMTP_HOST', 'SMTP_PORT', 'IDENTITY_URL', 'GOVERNANCE_URL', 'WORK_URL', 'COLLAB_URL'],
};

/** Compose services each app service must wait for. */
const COMPOSE_DEPENDENCIES: Record<ServiceName, string[]> = {
  gateway: ['postgres', 'kafka', 'identity', 'governance', 'work', 'collab', 'notify'],
  identity: ['postgres', 'kafka'],
  governance: ['postgres', 'kafka', 'identity'],
  work: ['postgres', 'kafka', 'identity', 'governance'],
  collab: ['mongo', 'kafka', 'identity', 'governance', 'work'],
  notify: ['mongo', 'kafka', 'maildev', 'identity', 'governance', 'work', 'collab'],
};

const INFRA_SERVICES = ['kafka', 'postgres', 'mongo', 'maildev'];

/** Only these are reachable from the host by default: the API and MailDev's UI. */
const PUBLISHED_BY_DEFAULT: Record<string, number> = { gateway: 8080, maildev: 1080 };

function requiredEnv(service: ServiceName): string[] {
  return [...COMMON_ENV, ...SERVICE_ENV[service]];
}

// ---- small helpers for walking parsed YAML of unknown shape

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapping(value: unknown, what: string): Mapping {
  if (!isMapping(value)) assert.fail(`${what} must be a mapping`);
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) assert.fail(`${what} must be a list`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || value === '') assert.fail(`${what} must be a non-empty string`);
  return value;
}

function optionalMapping(value: unknown, what: string): Mapping {
  return value === undefined ? {} : mapping(value, what);
}

function readRepoFile(relative: string): string {
  return readFileSync(path.join(repoRoot, relative), 'utf8');
}

function isServiceName(name: string): name is ServiceName {
  return (SERVICE_NAMES as string[]).includes(name);
}

// ---- docker-compose.yml

// Compose resolves `<<:` merge keys (used for the shared service blocks).
const compose = mapping(parse(readRepoFile('docker-compose.yml'), { merge: true }), 'docker-compose.yml');
const composeServices = mapping(compose['services'], 'services');

function composeService(name: string): Mapping {
  return mapping(composeServices[name], `compose service ${name}`);
}

/** Environment as a map, from either the mapping or the `KEY=value` list form. */
function composeEnv(name: string): Map<string, string> {
  const raw = composeService(name)['environment'];
  const env = new Map<string, string>();
  if (raw === undefined) return env;
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const [key = '', ...value] = text(entry, `${name} environment entry`).split('=');
      env.set(key, value.join('='));
    }
    return env;
  }
  for (const [key, value] of Object.entries(mapping(raw, `${name} environment`))) {
    env.set(key, value === null ? '' : String(value));
  }
  return env;
}

function composeDependsOn(name: string): Map<string, string | undefined> {
  const raw = composeService(name)['depends_on'];
  const deps = new Map<string, string | undefined>();
  if (raw === undefined) return deps;
  if (Array.isArray(raw)) {
    for (const dep of raw) deps.set(text(dep, `${name} depends_on entry`), undefined);
    return deps;
  }
  for (const [dep, options] of Object.entries(mapping(raw, `${name} depends_on`))) {
    const condition = optionalMapping(options, `${name} depends_on ${dep}`)['condition'];
    deps.set(
      dep,
      condition === undefined ? undefined : text(condition, `${name} depends_on ${dep} condition`),
    );
  }
  return deps;
}

/** Host ports a service publishes (short `[ip:]host:container[/proto]` or long form). */
function publishedHostPorts(name: string): number[] {
  const raw = composeService(name)['ports'];
  if (raw === undefined) return [];
  const ports: number[] = [];
  for (const entry of list(raw, `${name} ports`)) {
    if (isMapping(entry)) {
      if (entry['published'] !== undefined) ports.push(Number(entry['published']));
      continue;
    }
    const parts = text(entry, `${name} port`).split('/')[0]?.split(':') ?? [];
    if (parts.length >= 2) ports.push(Number(parts[parts.length - 2]));
  }
  return ports;
}

test('compose defines the six services and the infrastructure', () => {
  for (const name of [...SERVICE_NAMES, ...INFRA_SERVICES]) {
    assert.ok(isMapping(composeServices[name]), `compose service ${name} is missing`);
  }
});

test('compose builds each service from its own existing Dockerfile at the repo root', () => {
  for (const service of SERVICE_NAMES) {
    const build = mapping(composeService(service)['build'], `${service} build`);
    assert.equal(build['context'], '.', `${service} must build with the repository root as context`);
    const dockerfile = text(build['dockerfile'], `${service} build.dockerfile`);
    assert.equal(dockerfile, `services/${service}/Dockerfile`);
    assert.ok(existsSync(path.join(repoRoot, dockerfile)), `${dockerfile} does not exist`);
  }
});

test('compose gives every service the env it reads, PORT matching its declared port', () => {
  for (const service of SERVICE_NAMES) {
    const env = composeEnv(service);
    for (const key of requiredEnv(service)) {
      assert.ok(env.get(key), `${service} lacks ${key}`);
    }
    assert.equal(env.get('PORT'), String(SERVICE_PORTS[service]), `${service} PORT`);
  }
});

test('compose services listen on every interface of their container (HOST=0.0.0.0)', () => {
  // The services' own default is 127.0.0.1, out of reach of the other containers.
  for (const service of SERVICE_NAMES) assert.equal(composeEnv(service).get('HOST'), '0.0.0.0', service);
});

test('compose services restart and wait for healthy dependencies', () => {
  for (const service of SERVICE_NAMES) {
    assert.equal(composeService(service)['restart'], 'unless-stopped', `${service} restart policy`);
    const deps = composeDependsOn(service);
    for (const needed of COMPOSE_DEPENDENCIES[service]) {
      assert.equal(deps.get(needed), 'service_healthy', `${service} must wait for ${needed} to be healthy`);
    }
  }
});

test('every depends_on target exists: a one-shot to complete, anything else with a healthcheck', () => {
  for (const name of Object.keys(composeServices)) {
    for (const [dep, condition] of composeDependsOn(name)) {
      assert.ok(isMapping(composeServices[dep]), `${name} depends on unknown service ${dep}`);
      if (condition === 'service_completed_successfully') {
        assert.equal(composeService(dep)['restart'], 'no', `${dep} (awaited by ${name}) must be a one-shot`);
        continue;
      }
      const healthcheck = composeService(dep)['healthcheck'];
      assert.ok(
        isMapping(healthcheck) && healthcheck['disable'] !== true,
        `${dep} (needed by ${name}) has no healthcheck`,
      );
    }
  }
});

test('compose healthchecks are well-formed commands', () => {
  for (const name of Object.keys(composeServices)) {
    const healthcheck = composeService(name)['healthcheck'];
    if (healthcheck === undefined || mapping(healthcheck, name)['disable'] === true) continue;
    const command = list(mapping(healthcheck, `${name} healthcheck`)['test'], `${name} healthcheck.test`);
    assert.ok(['CMD', 'CMD-SHELL'].includes(String(command[0])), `${name} healthcheck must start with CMD`);
    // A stray ": " in an unquoted YAML item turns it into a mapping.
    for (const part of command)
      assert.equal(typeof part, 'string', `${name} healthcheck has a non-string part`);
  }
  for (const service of SERVICE_NAMES) {
    const command = list(mapping(composeService(service)['healthcheck'], service)['test'], service);
    assert.ok(command.join(' ').includes('/health/ready'), `${service} healthcheck must probe /health/ready`);
  }
});

test('the kafka image is Apache Kafka 3.9.x in KRaft mode, advertised where the services look', () => {
  const kafka = composeService('kafka');
  assert.match(text(kafka['image'], 'kafka image'), /^apache\/kafka:3\.9\.\d+$/);
  const env = composeEnv('kafka');
  assert.equal(env.get('KAFKA_PROCESS_ROLES'), 'broker,controller');
  const advertised = (env.get('KAFKA_ADVERTISED_LISTENERS') ?? '')
    .split(',')
    .map((l) => l.replace(/^[A-Z_]+:\/\//, ''));
  for (const service of SERVICE_NAMES) {
    for (const broker of (composeEnv(service).get('KAFKA_BROKERS') ?? '').split(',')) {
      assert.ok(
        advertised.includes(broker.trim()),
        `${service} KAFKA_BROKERS ${broker} is not an advertised listener`,
      );
    }
  }
});

test('the postgres init script creates every database the services connect to', () => {
  const postgres = composeService('postgres');
  const postgresEnv = composeEnv('postgres');
  const mounts = list(postgres['volumes'], 'postgres volumes').map((v) => text(v, 'postgres volume'));
  const initMount = mounts.find((m) => m.split(':')[1]?.startsWith('/docker-entrypoint-initdb.d/'));
  if (initMount === undefined)
    assert.fail('postgres mounts no init script into /docker-entrypoint-initdb.d/');
  const hostPath = initMount.split(':')[0] ?? '';
  assert.ok(existsSync(path.join(repoRoot, hostPath)), `${hostPath} does not exist`);
  const script = readRepoFile(hostPath);
  const created = new Set([...script.matchAll(/CREATE\s+DATABASE\s+"?(\w+)"?/gi)].map((m) => m[1]));

  const wanted = SERVICE_NAMES.filter((s) => SERVICE_ENV[s].includes('DATABASE_URL'));
  assert.deepEqual(wanted, ['gateway', 'identity', 'governance', 'work']);
  for (const service of wanted) {
    const url = new URL(text(composeEnv(service).get('DATABASE_URL'), `${service} DATABASE_URL`));
    const database = url.pathname.slice(1);
    assert.equal(database, `trellis_${service}`);
    assert.ok(created.has(database), `${hostPath} does not create ${database}`);
    assert.equal(url.hostname, 'postgres');
    assert.equal(url.port, '5432');
    // The service's runtime role, created by the script; its migration step connects as the owner.
    const role = new RegExp(`CREATE\\s+ROLE\\s+${url.username}\\s+LOGIN\\s+PASSWORD\\s+'([^']*)'`, 'i');
    assert.equal(
      script.match(role)?.[1],
      url.password,
      `${hostPath} creates ${url.username} with its password`,
    );
    const owner = new URL(
      text(composeEnv(`${service}-migrate`).get('DATABASE_URL'), `${service}-migrate URL`),
    );
    assert.equal(owner.host, url.host);
    assert.equal(owner.pathname, url.pathname);
    assert.equal(owner.username, postgresEnv.get('POSTGRES_USER'));
    assert.equal(owner.password, postgresEnv.get('POSTGRES_PASSWORD'));
  }
  for (const service of SERVICE_NAMES.filter((s) => SERVICE_ENV[s].includes('MONGO_URL'))) {
    const url = new URL(text(composeEnv(service).get('MONGO_URL'), `${service} MONGO_URL`));
    assert.equal(url.hostname, 'mongo');
    assert.equal(url.pathname, `/trellis_${service}`);
  }
});

test('gateway upstream URLs point at compose services on their declared ports', () => {
  const env = composeEnv('gateway');
  for (const [key, target] of Object.entries(UPSTREAM_ENV)) {
    const url = new URL(text(env.get(key), `gateway ${key}`));
    assert.equal(url.hostname, target, `gateway ${key}`);
    assert.ok(isMapping(composeServices[url.hostname]), `gateway ${key}: no compose service ${url.hostname}`);
    assert.equal(url.port, composeEnv(target).get('PORT'), `gateway ${key} port`);
  }
  const notify = composeEnv('notify');
  assert.ok(
    isMapping(composeServices[text(notify.get('SMTP_HOST'), 'SMTP_HOST')]),
    'SMTP_HOST is no compose service',
  );
  assert.equal(notify.get('SMTP_PORT'), composeEnv('maildev').get('MAILDEV_SMTP_PORT'));
});

test('host ports are unique and only the gateway and MailDev publish any (Jaeger too, with its profile)', () => {
  const seen = new Map<number, string>();
  const byDefault = Object.keys(composeServices).filter(
    (name) => composeService(name)['profiles'] === undefined,
  );
  assert.deepEqual(list(composeService('jaeger')['profiles'], 'jaeger profiles'), ['tracing']);
  assert.deepEqual(publishedHostPorts('jaeger'), [16686]);
  for (const name of byDefault) {
    for (const port of publishedHostPorts(name)) {
      assert.ok(Number.isInteger(port), `${name} publishes an unparsable port`);
      const other = seen.get(port);
      assert.equal(other, undefined, `host port ${port} published by both ${other} and ${name}`);
      seen.set(port, name);
    }
  }
  assert.deepEqual(Object.fromEntries([...seen].map(([port, name]) => [name, port])), PUBLISHED_BY_DEFAULT);
});

// ---- Dockerfiles

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions with comments dropped and continuations joined. */
function instructions(dockerfile: string): Instruction[] {
  const logical: string[] = [];
  let pending = '';
  for (const line of dockerfile.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.trimEnd().endsWith('\\')) {
      pending += line.trimEnd().slice(0, -1) + ' ';
      continue;
    }
    const joined = (pending + line).trim();
    pending = '';
    if (joined) logical.push(joined);
  }
  return logical.map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
}

test('each service Dockerfile is the rendered template (run infra/docker/render-dockerfiles.ts)', () => {
  const template = readFileSync(templatePath, 'utf8');
  for (const service of SERVICE_NAMES) {
    const actual = readFileSync(dockerfilePath(service), 'utf8');
    assert.equal(actual, renderDockerfile(template, service), `services/${service}/Dockerfile is stale`);
  }
});

test('each service Dockerfile: node:24-slim, multi-stage, non-root, its own port and main.ts', () => {
  for (const service of SERVICE_NAMES) {
    const steps = instructions(readFileSync(dockerfilePath(service), 'utf8'));
    const froms = steps.filter((s) => s.keyword === 'FROM').map((s) => s.args);
    assert.ok(froms.length >= 2, `${service}: multi-stage build expected`);
    for (const from of froms) assert.match(from, /^node:24-slim( AS \w+)?$/i, `${service}: FROM ${from}`);

    const runtime = steps.slice(steps.findLastIndex((s) => s.keyword === 'FROM'));
    const user = runtime.findLast((s) => s.keyword === 'USER');
    if (user === undefined) assert.fail(`${service}: the runtime stage sets no USER`);
    assert.ok(!['root', '0', 'root:root', '0:0'].includes(user.args), `${service}: runs as ${user.args}`);

    const cmd = runtime.findLast((s) => s.keyword === 'CMD');
    if (cmd === undefined) assert.fail(`${service}: no CMD`);
    assert.deepEqual(JSON.parse(cmd.args), ['node', `services/${service}/src/main.ts`]);

    const args = new Map(
      runtime
        .filter((s) => s.keyword === 'ARG')
        .map((s) => {
          const [key = '', value = ''] = s.args.split('=');
          return [key, value] as const;
        }),
    );
    assert.equal(args.get('PORT'), String(SERVICE_PORTS[service]), `${service}: ARG PORT`);
    assert.ok(
      runtime.some((s) => s.keyword === 'EXPOSE'),
      `${service}: no EXPOSE`,
    );
    assert.ok(runtime.some((s) => s.keyword === 'ENV' && /NODE_ENV=production/.test(s.args)));
    // The image runs with the Node options of every other launcher (npm start, the tests' suites).
    assert.ok(
      runtime.some((s) => s.keyword === 'ENV' && s.args.includes(`NODE_OPTIONS="${SERVICE_NODE_OPTIONS}"`)),
      `${service}: ENV NODE_OPTIONS="${SERVICE_NODE_OPTIONS}"`,
    );
    const healthcheck = runtime.find((s) => s.keyword === 'HEALTHCHECK');
    assert.match(healthcheck?.args ?? '', /\/health\/live/, `${service}: HEALTHCHECK on /health/live`);
    assert.equal(runtime.find((s) => s.keyword === 'STOPSIGNAL')?.args, 'SIGTERM');
  }
});

test('the Dockerfile template copies every workspace manifest before npm ci', () => {
  const steps = instructions(readFileSync(templatePath, 'utf8'));
  const copies = steps.filter((s) => s.keyword === 'COPY').map((s) => s.args);
  const workspaces = ['services', 'clients'].flatMap((parent) =>
    readdirSync(path.join(repoRoot, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(path.join(repoRoot, parent, d.name, 'package.json')))
      .map((d) => `${parent}/${d.name}`),
  );
  for (const workspace of ['shared', ...workspaces]) {
    assert.ok(
      copies.some((c) => c.startsWith(`${workspace}/package.json `)),
      `the deps stage must copy ${workspace}/package.json (npm ci needs every workspace manifest)`,
    );
  }
  const install = steps.find((s) => s.keyword === 'RUN' && s.args.includes('npm ci'));
  assert.match(install?.args ?? '', /--omit=dev/);
  assert.match(install?.args ?? '', /--workspace "@trellis\/\$\{SERVICE\}"/);
});

test('.dockerignore keeps host node_modules and git data out of the build context', () => {
  const patterns = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const needed of ['**/node_modules', '.git', '.trellis']) {
    assert.ok(patterns.includes(needed), `.dockerignore lacks ${needed}`);
  }
  for (const kept of ['package.json', 'package-lock.json', 'shared', 'services']) {
    assert.ok(!patterns.includes(kept), `.dockerignore must not exclude ${kept}`);
  }
});

// ---- infra/k8s

const k8sRoot = path.join(repoRoot, 'infra/k8s');

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFilesUnder(full);
    return /\.ya?ml$/.test(entry.name) ? [full] : [];
  });
}

interface Manifest {
  file: string;
  kind: string;
  name: string;
  body: Mapping;
}

const manifests: Manifest[] = [];
for (const file of yamlFilesUnder(k8sRoot)) {
  const relative = path.relative(k8sRoot, file);
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    assert.deepEqual(doc.errors, [], `${relative}: YAML errors`);
    const body: unknown = doc.toJS();
    if (body === null || body === undefined) continue;
    const manifest = mapping(body, relative);
    const kind = text(manifest['kind'], `${relative} kind`);
    const name =
      kind === 'Kustomization'
        ? 'kustomization'
        : text(mapping(manifest['metadata'], relative)['name'], `${relative} name`);
    manifests.push({ file: relative, kind, name, body: manifest });
  }
}

function ofKind(kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

function spec(m: Manifest): Mapping {
  return mapping(m.body['spec'], `${m.kind} ${m.name} spec`);
}

function podSpec(deployment: Manifest): Mapping {
  const template = mapping(spec(deployment)['template'], `${deployment.name} template`);
  return mapping(template['spec'], `${deployment.name} pod spec`);
}

function podLabels(deployment: Manifest): Mapping {
  const template = mapping(spec(deployment)['template'], `${deployment.name} template`);
  return mapping(mapping(template['metadata'], `${deployment.name} template metadata`)['labels'], 'labels');
}

function containers(deployment: Manifest): Mapping[] {
  return list(podSpec(deployment)['containers'], `${deployment.name} containers`).map((c) =>
    mapping(c, `${deployment.name} container`),
  );
}

function containerPorts(container: Mapping): { name?: string; port: number }[] {
  return list(container['ports'] ?? [], 'container ports').map((p) => {
    const port = mapping(p, 'container port');
    const name = port['name'];
    return { ...(typeof name === 'string' ? { name } : {}), port: Number(port['containerPort']) };
  });
}

function servesPort(ports: { name?: string; port: number }[], ref: unknown): boolean {
  return ports.some((p) => (typeof ref === 'string' ? p.name === ref : p.port === Number(ref)));
}

function dataKeys(kind: 'ConfigMap' | 'Secret', name: string): Set<string> | undefined {
  const found = ofKind(kind).find((m) => m.name === name);
  if (found === undefined) return undefined;
  return new Set([
    ...Object.keys(optionalMapping(found.body['data'], `${kind} ${name} data`)),
    ...Object.keys(optionalMapping(found.body['stringData'], `${kind} ${name} stringData`)),
  ]);
}

test('the kustomization lists existing files and every manifest file', () => {
  const kustomization = ofKind('Kustomization');
  assert.equal(kustomization.length, 1, 'exactly one kustomization.yaml');
  const body = kustomization[0]?.body ?? {};
  assert.equal(body['namespace'], 'trellis');
  const resources = list(body['resources'], 'resources').map((r) => text(r, 'resource'));
  for (const resource of resources) {
    assert.ok(existsSync(path.join(k8sRoot, resource)), `kustomization resource ${resource} does not exist`);
  }
  const listed = new Set(resources.map((r) => path.normalize(r)));
  for (const file of new Set(manifests.map((m) => m.file))) {
    if (file === 'kustomization.yaml') continue;
    assert.ok(listed.has(file), `${file} is not listed in kustomization.yaml`);
  }
  assert.ok(
    ofKind('Namespace').some((m) => m.name === 'trellis'),
    'no trellis Namespace',
  );
});

test('there is one Deployment per service with its port, env and probes', () => {
  const deployments = ofKind('Deployment');
  assert.deepEqual(deployments.map((d) => d.name).sort(), [...SERVICE_NAMES].sort());
  for (const deployment of deployments) {
    const name = deployment.name;
    if (!isServiceName(name)) assert.fail(`unexpected Deployment ${name}`);
    for (const container of containers(deployment)) {
      const ports = containerPorts(container);
      assert.ok(servesPort(ports, SERVICE_PORTS[name]), `${name} must listen on ${SERVICE_PORTS[name]}`);
      for (const [probe, route] of [
        ['livenessProbe', '/health/live'],
        ['readinessProbe', '/health/ready'],
      ] as const) {
        const httpGet = mapping(
          mapping(container[probe], `${name} ${probe}`)['httpGet'],
          `${name} ${probe}.httpGet`,
        );
        assert.equal(httpGet['path'], route, `${name} ${probe} path`);
        assert.ok(servesPort(ports, httpGet['port']), `${name} ${probe} must probe the container port`);
      }

      const env: Mapping[] = list(container['env'] ?? [], `${name} env`).map((e) =>
        mapping(e, `${name} env entry`),
      );
      const names = new Set(env.map((e) => text(e['name'], `${name} env name`)));
      for (const key of requiredEnv(name)) assert.ok(names.has(key), `${name} Deployment lacks ${key}`);
      const port: Mapping | undefined = env.find((e) => e['name'] === 'PORT');
      assert.equal(port?.['value'], String(SERVICE_PORTS[name]), `${name} PORT`);
    }
  }
});

test('every Deployment listens on all interfaces of its pod (HOST=0.0.0.0)', () => {
  // The services' own default is 127.0.0.1: the Service, the probes and other pods could not connect.
  for (const deployment of ofKind('Deployment')) {
    for (const container of containers(deployment)) {
      const env = list(container['env'] ?? [], `${deployment.name} env`).map((e) => mapping(e, 'env entry'));
      assert.equal(env.find((e) => e['name'] === 'HOST')?.['value'], '0.0.0.0', deployment.name);
    }
  }
});

test('Deployment env references resolve to existing ConfigMap and Secret keys', () => {
  for (const deployment of ofKind('Deployment')) {
    for (const container of containers(deployment)) {
      for (const entry of list(container['env'] ?? [], 'env')) {
        const valueFrom = mapping(entry, 'env entry')['valueFrom'];
        if (valueFrom === undefined) continue;
        const from = mapping(valueFrom, 'valueFrom');
        for (const [field, kind] of [
          ['configMapKeyRef', 'ConfigMap'],
          ['secretKeyRef', 'Secret'],
        ] as const) {
          if (from[field] === undefined) continue;
          const ref = mapping(from[field], field);
          const refName = text(ref['name'], `${field}.name`);
          const keys = dataKeys(kind, refName);
          assert.ok(keys, `${deployment.name}: no ${kind} ${refName}`);
          assert.ok(
            keys.has(text(ref['key'], `${field}.key`)),
            `${deployment.name}: ${kind} ${refName} has no ${String(ref['key'])}`,
          );
        }
      }
      for (const source of list(container['envFrom'] ?? [], 'envFrom')) {
        const envFrom = mapping(source, 'envFrom entry');
        const configMap = envFrom['configMapRef'];
        const secret = envFrom['secretRef'];
        if (configMap !== undefined)
          assert.ok(dataKeys('ConfigMap', text(mapping(configMap, 'ref')['name'], 'name')));
        if (secret !== undefined) assert.ok(dataKeys('Secret', text(mapping(secret, 'ref')['name'], 'name')));
      }
    }
  }
});

test('Deployments run hardened and drain gracefully', () => {
  for (const deployment of ofKind('Deployment')) {
    const pod = podSpec(deployment);
    const podSecurity = mapping(pod['securityContext'], `${deployment.name} pod securityContext`);
    assert.equal(podSecurity['runAsNonRoot'], true, `${deployment.name} runAsNonRoot`);
    assert.equal(podSecurity['runAsUser'], 1000, `${deployment.name} runAsUser (the image's node user)`);
    assert.equal(pod['terminationGracePeriodSeconds'], 30);
    for (const container of containers(deployment)) {
      const security = mapping(container['securityContext'], `${deployment.name} securityContext`);
      assert.equal(security['readOnlyRootFilesystem'], true, `${deployment.name} readOnlyRootFilesystem`);
      assert.equal(
        security['allowPrivilegeEscalation'],
        false,
        `${deployment.name} allowPrivilegeEscalation`,
      );
      const drop = list(mapping(security['capabilities'], 'capabilities')['drop'], 'drop');
      assert.ok(drop.includes('ALL'), `${deployment.name} must drop ALL capabilities`);
      assert.ok(mapping(container['lifecycle'], 'lifecycle')['preStop'], `${deployment.name} preStop`);
      const resources = mapping(container['resources'], `${deployment.name} resources`);
      assert.ok(
        isMapping(resources['requests']) && isMapping(resources['limits']),
        `${deployment.name} resources`,
      );
    }
  }
});

test('each Deployment has a CPU HorizontalPodAutoscaler of 2 to 10 replicas', () => {
  for (const deployment of ofKind('Deployment')) {
    const hpa = ofKind('HorizontalPodAutoscaler').find((h) => {
      const target = mapping(spec(h)['scaleTargetRef'], 'scaleTargetRef');
      return target['kind'] === 'Deployment' && target['name'] === deployment.name;
    });
    if (hpa === undefined) assert.fail(`${deployment.name} has no HorizontalPodAutoscaler`);
    assert.equal(hpa.body['apiVersion'], 'autoscaling/v2');
    assert.equal(spec(hpa)['minReplicas'], 2);
    assert.equal(spec(hpa)['maxReplicas'], 10);
    const metric = mapping(list(spec(hpa)['metrics'], 'metrics')[0], 'metric');
    const resource = mapping(metric['resource'], 'metric resource');
    assert.equal(resource['name'], 'cpu');
    assert.equal(mapping(resource['target'], 'target')['averageUtilization'], 70);
  }
});

test('each Service selects an existing Deployment and targets a container port', () => {
  for (const service of ofKind('Service')) {
    const selector = mapping(spec(service)['selector'], `Service ${service.name} selector`);
    assert.ok(Object.keys(selector).length > 0, `Service ${service.name} has an empty selector`);
    const deployment = ofKind('Deployment').find((d) => {
      const labels = podLabels(d);
      return Object.entries(selector).every(([key, value]) => labels[key] === value);
    });
    if (deployment === undefined) assert.fail(`Service ${service.name} selects no Deployment`);
    const ports = containers(deployment).flatMap(containerPorts);
    for (const port of list(spec(service)['ports'], 'ports')) {
      const servicePort = mapping(port, 'service port');
      const target = servicePort['targetPort'] ?? servicePort['port'];
      assert.ok(
        servesPort(ports, target),
        `Service ${service.name} targets port ${String(target)} nobody serves`,
      );
    }
  }
});

/** Port of a Service by name or number, if it has it. */
function servicePort(serviceName: string, ref: unknown): number | undefined {
  const service = ofKind('Service').find((s) => s.name === serviceName);
  if (service === undefined) return undefined;
  for (const port of list(spec(service)['ports'], 'ports')) {
    const p = mapping(port, 'service port');
    if (typeof ref === 'string' ? p['name'] === ref : Number(p['port']) === Number(ref))
      return Number(p['port']);
  }
  return undefined;
}

test('the Ingress sends traffic to the gateway Service', () => {
  const ingresses = ofKind('Ingress');
  assert.ok(ingresses.length > 0, 'no Ingress');
  for (const ingress of ingresses) {
    const backends: Mapping[] = [];
    const fallback = spec(ingress)['defaultBackend'];
    if (fallback !== undefined) backends.push(mapping(fallback, 'defaultBackend'));
    for (const rule of list(spec(ingress)['rules'] ?? [], 'rules')) {
      const http = mapping(mapping(rule, 'rule')['http'], 'rule.http');
      for (const p of list(http['paths'], 'paths'))
        backends.push(mapping(mapping(p, 'path')['backend'], 'backend'));
    }
    assert.ok(backends.length > 0, `Ingress ${ingress.name} has no backend`);
    for (const backend of backends) {
      const service = mapping(backend['service'], 'backend.service');
      const name = text(service['name'], 'backend service name');
      const port = mapping(service['port'], 'backend service port');
      assert.equal(name, 'gateway', `Ingress ${ingress.name} must route to the gateway`);
      assert.ok(
        servicePort(name, port['name'] ?? port['number']),
        `Ingress ${ingress.name}: no Service port on ${name}`,
      );
    }
  }
});

test('the Ingress exposes the API, the WebSocket and /health, never /metrics or the probes', () => {
  /** Whether an Ingress path rule sends `url` to its backend (Kubernetes' Prefix and Exact). */
  const routes = (rule: Mapping, url: string) => {
    const path = text(rule['path'], 'path');
    if (rule['pathType'] === 'Exact') return url === path;
    const prefix = path.replace(/\/$/, '');
    return url === prefix || url.startsWith(`${prefix}/`);
  };
  for (const ingress of ofKind('Ingress')) {
    assert.equal(spec(ingress)['defaultBackend'], undefined, `Ingress ${ingress.name}: no default backend`);
    const rules = list(spec(ingress)['rules'] ?? [], 'rules').flatMap((rule) =>
      list(mapping(mapping(rule, 'rule')['http'], 'rule.http')['paths'], 'paths').map((p) =>
        mapping(p, 'path'),
      ),
    );
    const reached = (url: string) => rules.some((rule) => routes(rule, url));
    for (const url of [
      '/api/v1/projects',
      '/api/docs',
      '/api/openapi.json',
      '/ws',
      '/ws/notifications',
      '/health',
    ])
      assert.ok(reached(url), `Ingress ${ingress.name} must route ${url}`);
    for (const url of ['/metrics', '/health/live', '/health/ready', '/'])
      assert.ok(!reached(url), `Ingress ${ingress.name} must not route ${url}`);
  }
});

test('no HorizontalPodAutoscaler scales a service past the partitions of the topics it consumes', () => {
  const config = ofKind('ConfigMap').find((m) => m.name === 'trellis-config');
  if (config === undefined) assert.fail('no trellis-config ConfigMap');
  // Every topic a service creates gets KAFKA_TOPIC_PARTITIONS partitions: a consumer group's replicas
  // past that count would sit idle.
  const partitions = Number(
    text(mapping(config.body['data'], 'data')['KAFKA_TOPIC_PARTITIONS'], 'partitions'),
  );
  assert.ok(Number.isInteger(partitions) && partitions >= 1, `KAFKA_TOPIC_PARTITIONS=${partitions}`);
  const hpas = ofKind('HorizontalPodAutoscaler');
  assert.ok(hpas.length > 0);
  for (const hpa of hpas) {
    const max = Number(spec(hpa)['maxReplicas']);
    assert.ok(max <= partitions, `${hpa.name}: maxReplicas ${max} > ${partitions} partitions per topic`);
  }
  assert.equal(
    composeEnv('work').get('KAFKA_TOPIC_PARTITIONS'),
    String(partitions),
    'compose creates the same',
  );
});

test('a replica stops within its grace period: preStop, drain and every shutdown step', () => {
  const config = ofKind('ConfigMap').find((m) => m.name === 'trellis-config');
  if (config === undefined) assert.fail('no trellis-config ConfigMap');
  const data = mapping(config.body['data'], 'data');
  const drainMs = Number(text(data['SHUTDOWN_DRAIN_MS'], 'SHUTDOWN_DRAIN_MS'));
  const timeoutMs = Number(text(data['SHUTDOWN_TIMEOUT_MS'], 'SHUTDOWN_TIMEOUT_MS'));
  // The drain is one of the steps the timeout bounds, with room left for the others.
  assert.ok(drainMs > 0 && drainMs + 5_000 <= timeoutMs, `drain ${drainMs} ms within ${timeoutMs} ms`);
  for (const deployment of ofKind('Deployment')) {
    const grace = Number(podSpec(deployment)['terminationGracePeriodSeconds']) * 1000;
    for (const container of containers(deployment)) {
      const preStop = mapping(mapping(container['lifecycle'], 'lifecycle')['preStop'], 'preStop');
      const command = list(mapping(preStop['exec'], 'exec')['command'], 'command').map(String);
      const sleepMs = command[0] === 'sleep' ? Number(command[1]) * 1000 : 0;
      assert.ok(
        sleepMs + timeoutMs <= grace,
        `${deployment.name}: preStop ${sleepMs} ms + shutdown ${timeoutMs} ms > grace ${grace} ms`,
      );
    }
  }
  assert.equal(composeEnv('work').get('SHUTDOWN_DRAIN_MS'), String(drainMs), 'compose drains the same');
});

test('the gateway counts rate limits in PostgreSQL wherever it runs replicas', () => {
  // With the in-process store each replica would grant the whole limit again.
  assert.equal(composeEnv('gateway').get('RATE_LIMIT_STORE'), 'postgres', 'compose');
  const gateway = ofKind('Deployment').find((d) => d.name === 'gateway');
  if (gateway === undefined) assert.fail('no gateway Deployment');
  const env = containers(gateway).flatMap((c) => list(c['env'] ?? [], 'env').map((e) => mapping(e, 'env')));
  const store = env.find((e) => e['name'] === 'RATE_LIMIT_STORE');
  assert.equal(store?.['value'], 'postgres', 'the Deployment, which its HPA scales');
});

test('gateway upstream URLs in the ConfigMap point at Services on their ports', () => {
  const config = ofKind('ConfigMap').find((m) => m.name === 'trellis-config');
  if (config === undefined) assert.fail('no trellis-config ConfigMap');
  const data = mapping(config.body['data'], 'trellis-config data');
  for (const [key, target] of Object.entries(UPSTREAM_ENV)) {
    const url = new URL(text(data[key], `trellis-config ${key}`));
    assert.equal(url.hostname, target, key);
    assert.equal(servicePort(url.hostname, Number(url.port)), SERVICE_PORTS[target], `${key} port`);
  }
});

/** Resolves compose's `${VAR:-default}` / `${VAR-default}` interpolation to its default. */
function interpolated(value: string): string {
  return value.replace(/\$\{[A-Z0-9_]+:?-([^}]*)\}/g, '$1');
}

test("each service's own config schema accepts its compose environment (NODE_ENV=production)", async () => {
  for (const service of SERVICE_NAMES) {
    const { configSchema } = (await import(`../../services/${service}/src/config.ts`)) as {
      configSchema: ZodType;
    };
    const env = Object.fromEntries(
      [...composeEnv(service)].map(([key, value]) => [key, interpolated(value)]),
    );
    assert.equal(env.NODE_ENV, 'production', `${service} runs in production mode`);
    const result = configSchema.safeParse(env);
    assert.ok(
      result.success,
      `${service} would refuse to start: ${result.success ? '' : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
});

// ---- migrations: a step of their own, as the migration role; services run as a runtime role

/** The services that connect to PostgreSQL: each has a migration step and a runtime role. */
const postgresServices = SERVICE_NAMES.filter((s) => SERVICE_ENV[s].includes('DATABASE_URL'));

function envEntries(container: Mapping): Mapping[] {
  return list(container['env'] ?? [], 'env').map((e) => mapping(e, 'env entry'));
}

/** The Secret key an env variable is read from, if it is. */
function secretKeyOf(container: Mapping, variable: string): string | undefined {
  const entry = envEntries(container).find((e) => e['name'] === variable);
  const ref = isMapping(entry?.['valueFrom']) ? entry['valueFrom']['secretKeyRef'] : undefined;
  return isMapping(ref) ? text(ref['key'], `${variable} secretKeyRef.key`) : undefined;
}

function secretValue(key: string): string {
  const secret = ofKind('Secret').find((m) => m.name === 'trellis-datastores');
  if (secret === undefined) assert.fail('no trellis-datastores Secret');
  return text(optionalMapping(secret.body['stringData'], 'stringData')[key], `Secret key ${key}`);
}

/**
 * Why a Deployment would run migrations or hold the migration role: a container (init containers
 * too) whose command or args name a migration, an env variable from a `*_MIGRATION_*` Secret key, or
 * a whole Secret that holds one. Empty when it runs as a service should.
 */
function migrationViolations(deployment: Manifest): string[] {
  const pod = podSpec(deployment);
  const found: string[] = [];
  for (const container of [
    ...list(pod['initContainers'] ?? [], 'initContainers'),
    ...list(pod['containers'], 'containers'),
  ]) {
    const c = mapping(container, `${deployment.name} container`);
    const name = `${deployment.name}/${String(c['name'])}`;
    const argv = [...list(c['command'] ?? [], 'command'), ...list(c['args'] ?? [], 'args')].map(String);
    if (argv.some((arg) => /migrat/i.test(arg))) found.push(`${name} runs ${argv.join(' ')}`);
    for (const entry of envEntries(c)) {
      const key = secretKeyOf(c, text(entry['name'], 'env name'));
      if (key !== undefined && /MIGRATION/.test(key))
        found.push(`${name} gets ${String(entry['name'])} from ${key}`);
    }
    for (const source of list(c['envFrom'] ?? [], 'envFrom')) {
      const ref = mapping(source, 'envFrom entry')['secretRef'];
      const keys = isMapping(ref) ? dataKeys('Secret', text(ref['name'], 'secretRef.name')) : undefined;
      const held = [...(keys ?? [])].filter((key) => /MIGRATION/.test(key));
      if (held.length > 0) found.push(`${name} gets a whole Secret holding ${held.join(', ')}`);
    }
  }
  return found;
}

/** The same for a compose service: what it runs, and whether it connects as the databases' owner. */
function composeMigrationViolations(name: string, command: unknown, env: Map<string, string>): string[] {
  const found: string[] = [];
  const argv = command === undefined ? [] : Array.isArray(command) ? command.map(String) : [String(command)];
  if (argv.some((arg) => /migrat/i.test(arg))) found.push(`${name} runs ${argv.join(' ')}`);
  const url = env.get('DATABASE_URL');
  if (url && new URL(url).username === composeEnv('postgres').get('POSTGRES_USER'))
    found.push(`${name} connects as the migration role`);
  return found;
}

test('compose runs each PostgreSQL service’s migration step once, before the service starts', () => {
  for (const service of postgresServices) {
    const stepName = `${service}-migrate`;
    const step = composeService(stepName);
    assert.deepEqual(
      step['build'],
      composeService(service)['build'],
      `${stepName} builds ${service}'s image`,
    );
    assert.deepEqual(step['command'], ['node', `services/${service}/src/migrate.ts`], `${stepName} command`);
    assert.ok(existsSync(path.join(repoRoot, 'services', service, 'src', 'migrate.ts')));
    assert.equal(step['restart'], 'no', `${stepName} runs once`);
    assert.equal(composeDependsOn(stepName).get('postgres'), 'service_healthy');
    assert.equal(composeDependsOn(service).get(stepName), 'service_completed_successfully', service);
    const runtime = new URL(text(composeEnv(service).get('DATABASE_URL'), `${service} DATABASE_URL`));
    assert.equal(
      composeEnv(stepName).get('DATABASE_RUNTIME_ROLE'),
      runtime.username,
      `${stepName} grants it`,
    );
  }
});

test('each PostgreSQL Deployment has a migration Job: its image, the migration role, its runtime role granted', () => {
  const withDatabase = ofKind('Deployment').filter((d) =>
    containers(d).some((c) => envEntries(c).some((e) => e['name'] === 'DATABASE_URL')),
  );
  assert.deepEqual(withDatabase.map((d) => d.name).sort(), [...postgresServices].sort());
  for (const deployment of withDatabase) {
    const jobName = `${deployment.name}-migrate`;
    const job = ofKind('Job').find((j) => j.name === jobName);
    if (job === undefined) assert.fail(`no Job ${jobName}`);
    const pod = mapping(mapping(spec(job)['template'], `${jobName} template`)['spec'], `${jobName} pod`);
    assert.equal(pod['restartPolicy'], 'Never', jobName);
    assert.equal(mapping(pod['securityContext'], `${jobName} securityContext`)['runAsNonRoot'], true);
    const [container, ...others] = list(pod['containers'], `${jobName} containers`).map((c) =>
      mapping(c, 'c'),
    );
    if (container === undefined || others.length > 0) assert.fail(`${jobName}: one container`);
    const service = containers(deployment)[0] ?? {};
    assert.equal(container['image'], service['image'], `${jobName} runs the service's image`);
    assert.deepEqual(container['command'], ['node', `services/${deployment.name}/src/migrate.ts`]);
    const security = mapping(container['securityContext'], `${jobName} container securityContext`);
    assert.equal(security['readOnlyRootFilesystem'], true, jobName);
    assert.equal(security['allowPrivilegeEscalation'], false, jobName);

    const migrationKey = secretKeyOf(container, 'DATABASE_URL');
    assert.equal(migrationKey, `${deployment.name.toUpperCase()}_MIGRATION_DATABASE_URL`, jobName);
    const runtimeKey = secretKeyOf(service, 'DATABASE_URL');
    if (runtimeKey === undefined) assert.fail(`${deployment.name}: DATABASE_URL from the Secret`);
    const migrationUrl = new URL(secretValue(migrationKey));
    const runtimeUrl = new URL(secretValue(runtimeKey));
    assert.equal(migrationUrl.pathname, runtimeUrl.pathname, `${jobName} migrates the service's database`);
    assert.notEqual(migrationUrl.username, runtimeUrl.username, `${deployment.name}: two roles`);
    const role = envEntries(container).find((e) => e['name'] === 'DATABASE_RUNTIME_ROLE')?.['value'];
    assert.equal(role, runtimeUrl.username, `${jobName} grants the role ${deployment.name} connects as`);
  }
});

test('no Deployment or compose service runs migrations or holds the migration role (seeded ones are caught)', () => {
  for (const deployment of ofKind('Deployment'))
    assert.deepEqual(migrationViolations(deployment), [], deployment.name);
  for (const service of SERVICE_NAMES)
    assert.deepEqual(
      composeMigrationViolations(service, composeService(service)['command'], composeEnv(service)),
      [],
      service,
    );

  const work = ofKind('Deployment').find((d) => d.name === 'work');
  if (work === undefined) assert.fail('no work Deployment');
  const seeded = (change: (pod: Mapping, container: Mapping) => void): string => {
    const copy = structuredClone(work);
    const pod = podSpec(copy);
    change(pod, containers(copy)[0] ?? {});
    return migrationViolations(copy).join('\n');
  };
  assert.match(
    seeded((_, c) => (c['command'] = ['node', 'services/work/src/migrate.ts'])),
    /work\/work runs node services\/work\/src\/migrate\.ts/,
  );
  assert.match(
    seeded((_, c) => (c['args'] = ['--run-migrations'])),
    /runs --run-migrations/,
  );
  assert.match(
    seeded(
      (pod, c) => (pod['initContainers'] = [{ ...c, name: 'schema', command: ['npm', 'run', 'migrate'] }]),
    ),
    /work\/schema runs npm run migrate/,
  );
  assert.match(
    seeded((_, c) => {
      const entry = envEntries(c).find((e) => e['name'] === 'DATABASE_URL');
      if (entry)
        entry['valueFrom'] = {
          secretKeyRef: { name: 'trellis-datastores', key: 'WORK_MIGRATION_DATABASE_URL' },
        };
    }),
    /gets DATABASE_URL from WORK_MIGRATION_DATABASE_URL/,
  );
  assert.match(
    seeded((_, c) => (c['envFrom'] = [{ secretRef: { name: 'trellis-datastores' } }])),
    /gets a whole Secret holding .*WORK_MIGRATION_DATABASE_URL/,
  );

  assert.match(
    composeMigrationViolations('work', ['node', 'services/work/src/migrate.ts'], composeEnv('work')).join(),
    /work runs node services\/work\/src\/migrate\.ts/,
  );
  const asOwner = new Map(composeEnv('work'));
  asOwner.set('DATABASE_URL', text(composeEnv('work-migrate').get('DATABASE_URL'), 'work-migrate URL'));
  assert.match(
    composeMigrationViolations('work', undefined, asOwner).join(),
    /work connects as the migration role/,
  );
});
