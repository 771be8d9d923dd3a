// Boundaries checked by `npm run check:deps` (part of `npm run check`); see CONTRIBUTING.md.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-service-to-service',
      comment: 'Services talk through Kafka events and HTTP, never by importing each other.',
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/([^/]+)/', pathNot: '^services/$1/' },
    },
    {
      name: 'shared-not-to-services',
      comment: 'shared is what services build on; it never reaches into one.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^services/' },
    },
    {
      name: 'routes-not-to-stores',
      comment: 'Routes are thin: they call use cases, which reach the database (style.md).',
      severity: 'error',
      from: { path: '\\.routes\\.ts$' },
      to: {
        path: ['node_modules/(sequelize|mongoose|pg|mongodb)/', '(^|/)models?\\.ts$', '\\.model\\.ts$'],
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'client-standalone',
      comment: '@trellis/client is published on its own: its sources use only the document and npm packages.',
      severity: 'error',
      from: { path: '^clients/[^/]+/src/' },
      to: { path: '^(shared|services|e2e|infra)/' },
    },
    {
      name: 'no-circular',
      comment: 'Modules form no cycles (type-only imports included).',
      severity: 'error',
      from: { path: '^(services|shared)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|^\\.trellis/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
