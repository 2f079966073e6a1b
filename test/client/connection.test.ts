/** How the CLI, the worker and the hook server read their Temporal connection from the environment (client/connection.ts). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectionOptions, temporalConfigFromEnv } from '../../client/connection';

describe('temporalConfigFromEnv', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-connection-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, content: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content, { mode: 0o600 });
    return p;
  };

  test('without TLS settings: plain, local defaults', () => {
    // toMatchObject: other fields (payload codecs) may join the configuration.
    expect(temporalConfigFromEnv({})).toMatchObject({
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'cutover',
      tls: undefined,
      apiKey: undefined,
    });
  });

  test('reads the API key from TEMPORAL_API_KEY_FILE (trailing newline dropped) and turns TLS on', () => {
    const config = temporalConfigFromEnv({
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_API_KEY_FILE: file('api-key', 'secret-key-from-file\n'),
    });
    expect(config.apiKey).toBe('secret-key-from-file');
    expect(config.tls).toBeDefined();
    expect(connectionOptions(config)).toMatchObject({
      address: 'my-ns.a1b2c.tmprl.cloud:7233',
      apiKey: 'secret-key-from-file',
    });
  });

  test('TEMPORAL_API_KEY takes precedence over the file', () => {
    const config = temporalConfigFromEnv({
      TEMPORAL_API_KEY: 'from-env',
      TEMPORAL_API_KEY_FILE: file('api-key-2', 'from-file'),
    });
    expect(config.apiKey).toBe('from-env');
  });

  test('an unreadable key file is an error naming the variable and the path', () => {
    const missing = path.join(dir, 'no-such-key');
    expect(() => temporalConfigFromEnv({ TEMPORAL_API_KEY_FILE: missing })).toThrow(
      new RegExp(`^TEMPORAL_API_KEY_FILE=${missing}: cannot read`),
    );
  });

  test('reads the CA, the client certificate and key, and the server name for mTLS', () => {
    const config = temporalConfigFromEnv({
      TEMPORAL_TLS_CA: file('ca.crt', 'CA PEM'),
      TEMPORAL_TLS_CERT: file('client.crt', 'CERT PEM'),
      TEMPORAL_TLS_KEY: file('client.key', 'KEY PEM'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    expect(config.tls?.serverRootCACertificate?.toString()).toBe('CA PEM');
    expect(config.tls?.clientCertPair?.crt.toString()).toBe('CERT PEM');
    expect(config.tls?.clientCertPair?.key.toString()).toBe('KEY PEM');
    expect(config.tls?.serverNameOverride).toBe('temporal.internal');
    expect(config.apiKey).toBeUndefined();
  });

  test('a client certificate without its key is refused, and the error does not carry the certificate', () => {
    expect(() => temporalConfigFromEnv({ TEMPORAL_TLS_CERT: file('only.crt', 'CERT PEM CONTENT') })).toThrow(
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together',
    );
    let message = '';
    try {
      temporalConfigFromEnv({ TEMPORAL_TLS_KEY: file('only.key', 'PRIVATE KEY CONTENT') });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('must be set together');
    expect(message).not.toContain('PRIVATE KEY CONTENT');
  });

  test('TEMPORAL_TLS=true turns TLS on with the system roots', () => {
    expect(temporalConfigFromEnv({ TEMPORAL_TLS: 'true' }).tls).toEqual({
      serverRootCACertificate: undefined,
      clientCertPair: undefined,
      serverNameOverride: undefined,
    });
  });
});
