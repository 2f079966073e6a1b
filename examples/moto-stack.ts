/**
 * moto's AWS API server (PyPI moto[server], pinned by scripts/provision.sh) for the ALB driver's tests and benchmarks:
 * started on a free loopback port, with a VPC, two subnets, an Application Load Balancer, a platform target group and
 * a listener whose default action forwards to it — the OutSystems layout before any module rule exists.
 * (test/support/moto.ts re-exports these for the tests.)
 *
 * moto routes no traffic and reports every registered target healthy at once; see docs/routers.md for what it
 * cannot show.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { newSdkElbV2Api } from '../activities/drivers/aws-alb';
import type { ElbV2Api } from '../activities/drivers/aws-alb';
import { freePort } from '../scripts/dev-server';
import { toolPath } from '../scripts/tools';

export const REGION = 'us-east-1';

/** Dummy credentials through the standard environment chain (moto accepts any); never in a spec. */
export function useMotoCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_REGION = REGION;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
}

export interface Moto {
  endpoint: string;
  /** POST /moto-api/reset: forget every resource. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startMoto(): Promise<Moto> {
  useMotoCredentials();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-moto-'));
  const logFile = path.join(dir, 'moto.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const log = fs.openSync(logFile, 'a');
    const child: ChildProcess = spawn(toolPath('moto_server'), ['-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.ok) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    if (ready) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      return {
        endpoint,
        reset: async () => {
          const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
          await res.arrayBuffer();
        },
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    if (attempt >= 3)
      throw new Error(`moto_server did not start; log ${logFile}:\n${fs.readFileSync(logFile, 'utf8')}`);
  }
}

/** An EC2 Query API call (moto does not check signatures; @aws-sdk/client-ec2 is not a dependency). */
async function ec2(endpoint: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(`${endpoint}/`, {
    method: 'POST',
    body: new URLSearchParams({ Version: '2016-11-15', ...params }),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
    },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`EC2 ${params.Action} failed: ${text}`);
  return text;
}

function xmlValue(xml: string, tag: string): string {
  const value = new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(xml)?.[1];
  if (!value) throw new Error(`no <${tag}> in ${xml.slice(0, 300)}`);
  return value;
}

export interface AlbWorld {
  endpoint: string;
  vpcId: string;
  subnets: string[];
  loadBalancerArn: string;
  listenerArn: string;
  platformTargetGroupArn: string;
  /** The SDK client, for setting up what the driver never creates (load balancer, listener) and raw checks. */
  client: ElasticLoadBalancingV2Client;
  /** The driver's own API (domain shapes) for reading rules back in assertions. */
  api: ElbV2Api;
}

/** VPC + 2 subnets + ALB + platform target group (one target) + HTTP listener defaulting to it. */
export async function createAlbWorld(endpoint: string, name = 'shop-lb'): Promise<AlbWorld> {
  const vpcId = xmlValue(await ec2(endpoint, { Action: 'CreateVpc', CidrBlock: '10.0.0.0/16' }), 'vpcId');
  const subnets: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    const xml = await ec2(endpoint, {
      Action: 'CreateSubnet',
      VpcId: vpcId,
      CidrBlock: `10.0.${i + 1}.0/24`,
      AvailabilityZone: `${REGION}${az}`,
    });
    subnets.push(xmlValue(xml, 'subnetId'));
  }
  const client = new ElasticLoadBalancingV2Client({ region: REGION, endpoint });
  const lb = await client.send(new CreateLoadBalancerCommand({ Name: name, Subnets: subnets, Type: 'application' }));
  const loadBalancerArn = lb.LoadBalancers?.[0]?.LoadBalancerArn ?? '';
  const tg = await client.send(
    new CreateTargetGroupCommand({
      Name: 'platform-server',
      Protocol: 'HTTP',
      Port: 80,
      VpcId: vpcId,
      TargetType: 'ip',
    }),
  );
  const platformTargetGroupArn = tg.TargetGroups?.[0]?.TargetGroupArn ?? '';
  await client.send(
    new RegisterTargetsCommand({ TargetGroupArn: platformTargetGroupArn, Targets: [{ Id: '10.0.1.100', Port: 80 }] }),
  );
  const listener = await client.send(
    new CreateListenerCommand({
      LoadBalancerArn: loadBalancerArn,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: platformTargetGroupArn }],
    }),
  );
  const listenerArn = listener.Listeners?.[0]?.ListenerArn ?? '';
  return {
    endpoint,
    vpcId,
    subnets,
    loadBalancerArn,
    listenerArn,
    platformTargetGroupArn,
    client,
    api: newSdkElbV2Api({ region: REGION, endpoint }),
  };
}

/**
 * One more HTTP listener on the world's load balancer, on `port` (one per load balancer), whose default action
 * forwards to the platform target group like the first one's: its ARN.
 */
export async function createListener(world: AlbWorld, port: number): Promise<string> {
  const listener = await world.client.send(
    new CreateListenerCommand({
      LoadBalancerArn: world.loadBalancerArn,
      Protocol: 'HTTP',
      Port: port,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: world.platformTargetGroupArn }],
    }),
  );
  const arn = listener.Listeners?.[0]?.ListenerArn;
  if (!arn) throw new Error(`moto created no listener on port ${port}`);
  return arn;
}
