/**
 * The hook server's builds directory on a real filesystem: recording a release prunes what is older than it
 * (keeping one previous build and configuration), never what is newer; removing the application deletes them all.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultDrivers } from '../../../activities/drivers';
import { createHookActivities } from '../../../activities/outsystems';
import type { ReleaseRecord } from '../../../workflows/outsystems/types';

const APP = 'portal';

describe('builds kept by the hook activities', () => {
  let root: string;
  const activities = createHookActivities(defaultDrivers());
  const appDir = () => path.join(root, APP);

  /** A build (directory + record) or config snapshot, with a modification time `ageMin` minutes ago. */
  function make(kind: 'builds' | 'configs', name: string, ageMin: number): void {
    const dir = path.join(appDir(), kind, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'file'), name);
    const when = new Date(Date.now() - ageMin * 60_000);
    fs.utimesSync(dir, when, when);
    if (kind === 'builds' && !name.startsWith('.')) fs.writeFileSync(path.join(appDir(), kind, `${name}.json`), '{}');
  }

  const list = (kind: string) => fs.readdirSync(path.join(appDir(), kind)).sort();

  function release(op: string, config: string): ReleaseRecord {
    return {
      application: APP,
      version: op,
      operationId: op,
      bundleDir: path.join(appDir(), 'builds', op),
      command: ['node', 'server.js'],
      modules: ['Catalog'],
      config: { dir: path.join(appDir(), 'configs', config), revision: 'r', files: [] },
      updatedAt: new Date().toISOString(),
    };
  }

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-builds-'));
  });

  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('recording a release keeps it, the one before it and anything newer; older ones go', async () => {
    make('builds', 'op1', 40);
    make('builds', 'op2', 30);
    make('builds', 'op3', 20); // the live one
    make('builds', 'op4', 10); // prepared for the next Run
    make('builds', '.op5.123.abcd.tmp', 50); // a Build unpacking now
    make('configs', 'op1-aaa', 40);
    make('configs', 'op2-bbb', 30);
    make('configs', 'op3-ccc', 20);

    await activities.recordRelease({ buildsRoot: root, release: release('op3', 'op3-ccc') });

    expect(list('builds')).toEqual(['.op5.123.abcd.tmp', 'op2', 'op2.json', 'op3', 'op3.json', 'op4', 'op4.json']);
    expect(list('configs')).toEqual(['op2-bbb', 'op3-ccc']);
    expect(await activities.readRelease({ buildsRoot: root, application: APP })).toMatchObject({ operationId: 'op3' });

    // Recording the same release again (a retried activity) changes nothing more.
    await activities.recordRelease({ buildsRoot: root, release: release('op3', 'op3-ccc') });
    expect(list('builds')).toEqual(['.op5.123.abcd.tmp', 'op2', 'op2.json', 'op3', 'op3.json', 'op4', 'op4.json']);
  });

  test('removing the application deletes its release, builds and configuration snapshots', async () => {
    make('builds', 'op1', 20);
    make('configs', 'op1-aaa', 20);
    await activities.recordRelease({ buildsRoot: root, release: release('op1', 'op1-aaa') });

    await activities.forgetRelease({ buildsRoot: root, application: APP });

    expect(fs.readdirSync(appDir())).toEqual([]);
    expect(await activities.readRelease({ buildsRoot: root, application: APP })).toBeNull();
  });
});
