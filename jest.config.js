// Jest: real servers for integration tests come from test/support/global-setup.ts (one Temporal dev server per run).
// CI adds `--json --outputFile=...` on the command line (see .ci/run); nothing here writes result files.
//
// @kubernetes/client-node (the Kubernetes driver) is ESM-only, as are some of its dependencies. Node 20 loads it from
// CommonJS by itself (require(esm)), but jest's module registry cannot until Node 24.9, so jest compiles those
// packages to CommonJS with the same SWC transform instead. `cookie` is ESM-only too: Fastify's inject() (the
// property tests of the HTTP edges, in process) loads it through light-my-request. `@marcbachmann/cel-js` (the CEL
// parser the spec checks analysis conditions with) is ESM-only.
const ESM_PACKAGES = [
  '@marcbachmann/cel-js',
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jose',
  'socks-proxy-agent',
  'agent-base',
  'cookie',
  '@marcbachmann/cel-js',
];
const swc = {
  jsc: {
    parser: { syntax: 'typescript' },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};
/** @type {import('jest').Config} */
module.exports = {
  roots: ['<rootDir>/test'],
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', swc],
    [`/node_modules/(${ESM_PACKAGES.join('|')})/.+\\.js$`]: [
      '@swc/jest',
      { ...swc, jsc: { ...swc.jsc, parser: { syntax: 'ecmascript' } }, sourceMaps: false },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 180_000,
  maxWorkers: 2,
  setupFiles: ['<rootDir>/test/support/quiet-runtime.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};
