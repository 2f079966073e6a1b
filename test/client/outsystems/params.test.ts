/** Decoding hook calls exactly as LifeTime sends them: every protocol parameter Base64-encoded. */
import { decodeBase64, encodeParam, HookParamError, parseHookRequest } from '../../../client/outsystems/params';

const b64 = encodeParam;

function query(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    Address: b64('lifetime.example.internal'),
    ApplicationName: b64('Customer Portal'),
    ApplicationKey: b64('0f8e6c1a-2b3c-4d5e-8f90-1a2b3c4d5e6f'),
    OperationId: b64('9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d'),
    TargetPath: b64('/srv/os/target'),
    ResultPath: b64('/srv/os/result'),
    ConfigPath: b64('/srv/os/config'),
    ModuleNames: b64('["Catalog","Cart"]'),
    token: 'passes-through-untouched',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

function issuesOf(fn: () => unknown): { parameter: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof HookParamError) return err.issues;
    throw err;
  }
  throw new Error('expected a HookParamError');
}

describe('hook parameters', () => {
  test('decodes every Base64 parameter; ModuleNames is a JSON array', () => {
    const request = parseHookRequest('run', query());
    expect(request).toEqual({
      kind: 'operation',
      call: {
        address: 'lifetime.example.internal',
        applicationName: 'Customer Portal',
        applicationKey: '0f8e6c1a-2b3c-4d5e-8f90-1a2b3c4d5e6f',
        operationId: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d',
        modules: ['Catalog', 'Cart'],
      },
      paths: { target: '/srv/os/target', result: '/srv/os/result', config: '/srv/os/config' },
    });
  });

  test('a call without Address is a connection test, whatever else it carries', () => {
    expect(parseHookRequest('build', { token: 'x' })).toEqual({ kind: 'connection-test' });
    expect(parseHookRequest('remove', query({ Address: undefined, ModuleNames: undefined }))).toEqual({
      kind: 'connection-test',
    });
  });

  test('bad Base64 is refused naming the parameter', () => {
    expect(issuesOf(() => parseHookRequest('run', query({ OperationId: 'not*base64!' })))).toEqual([
      { parameter: 'OperationId', message: 'is not valid Base64' },
    ]);
    // Impossible length, and stray bits in the last character.
    expect(issuesOf(() => parseHookRequest('run', query({ ResultPath: 'abcde' })))[0]?.parameter).toBe('ResultPath');
    expect(() => decodeBase64('X', 'QR==')).toThrow(/X: is not valid Base64/);
  });

  test('bad Base64 even in a connection test is a 400 (nothing is guessed)', () => {
    expect(issuesOf(() => parseHookRequest('build', { TargetPath: '%%%' }))[0]?.parameter).toBe('TargetPath');
  });

  test('bytes that are not UTF-8 are refused naming the parameter', () => {
    const invalidUtf8 = Buffer.from([0xff, 0xfe, 0x41]).toString('base64');
    expect(issuesOf(() => parseHookRequest('run', query({ ApplicationName: invalidUtf8 })))).toEqual([
      { parameter: 'ApplicationName', message: 'decodes to bytes that are not UTF-8 text' },
    ]);
  });

  test('ModuleNames that is not JSON, or not an array of module names, is refused', () => {
    expect(issuesOf(() => parseHookRequest('run', query({ ModuleNames: b64('[Catalog') })))[0]).toMatchObject({
      parameter: 'ModuleNames',
      message: expect.stringMatching(/^is not JSON/),
    });
    expect(issuesOf(() => parseHookRequest('run', query({ ModuleNames: b64('{"a":1}') })))[0]).toEqual({
      parameter: 'ModuleNames',
      message: 'must be a JSON array of module names',
    });
    expect(issuesOf(() => parseHookRequest('run', query({ ModuleNames: b64('["../etc"]') })))[0]?.parameter).toBe(
      'ModuleNames',
    );
    expect(issuesOf(() => parseHookRequest('run', query({ ModuleNames: b64('[]') })))[0]?.message).toMatch(/empty/);
  });

  test('identifiers that would be unsafe in file names are refused', () => {
    expect(issuesOf(() => parseHookRequest('run', query({ ApplicationKey: b64('../../etc/passwd') })))[0]).toEqual({
      parameter: 'ApplicationKey',
      message: 'must be letters, digits and "-" (a GUID)',
    });
    expect(issuesOf(() => parseHookRequest('run', query({ OperationId: b64('a_b') })))[0]?.parameter).toBe(
      'OperationId',
    );
  });

  test('a parameter the stage needs is reported missing; others are optional', () => {
    expect(issuesOf(() => parseHookRequest('build', query({ TargetPath: undefined })))).toEqual([
      { parameter: 'TargetPath', message: 'is missing (the Container Build hook needs it)' },
    ]);
    expect(issuesOf(() => parseHookRequest('configs', query({ ConfigPath: undefined })))[0]?.parameter).toBe(
      'ConfigPath',
    );
    expect(issuesOf(() => parseHookRequest('build', query({ ResultPath: undefined })))).toEqual([
      { parameter: 'ResultPath', message: 'is missing' },
    ]);
    expect(parseHookRequest('remove', query({ TargetPath: undefined, ConfigPath: undefined })).kind).toBe('operation');
  });

  test('every bad parameter is named at once', () => {
    const issues = issuesOf(() => parseHookRequest('run', query({ ApplicationKey: '!!', OperationId: '??' })));
    expect(issues.map((i) => i.parameter)).toEqual(['ApplicationKey', 'OperationId']);
  });

  test('URL-safe Base64, missing padding, and a "+" that arrived as a space are all accepted', () => {
    const path = '/srv/os/result>?';
    const standard = b64(path);
    expect(standard).toMatch(/[+/]/);
    const urlSafe = standard.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(decodeBase64('ResultPath', urlSafe)).toBe(path);
    expect(decodeBase64('ResultPath', standard.replace(/\+/g, ' '))).toBe(path);
  });

  test('a parameter given twice is refused', () => {
    const q: Record<string, string | string[]> = { ...query(), OperationId: [b64('a'), b64('b')] };
    expect(issuesOf(() => parseHookRequest('run', q))).toEqual([
      { parameter: 'OperationId', message: 'is given more than once' },
    ]);
  });
});
