/**
 * moto's AWS API server (PyPI moto[server], pinned by scripts/provision.sh) for the ALB driver's tests and benchmarks:
 * started on a free loopback port, with a VPC, two subnets, an Application Load Balancer, a platform target group and
 * a listener whose default action forwards to it — the OutSystems layout before any module rule exists.
 * (test/support/moto.ts re-exports these for the tests.)
 *
 * moto routes no traffic and reports every registered target healthy at once; see docs/routers.md for what it
 * cannot show.
 */
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { newSdkElbV2Api } from '../activities/drivers/aws-alb';
import type { ElbV2Api } from '../activities/drivers/aws-alb';
import { startPortServer } from '../scripts/port-server';
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
  /** moto_server's process, for its CPU time. */
  pid: number | undefined;
  /** POST /moto-api/reset: forget every resource. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  useMotoCredentials();
  const server = await startPortServer({
    name: 'moto',
    bin: toolPath('moto_server'),
    args: (port) => ['-H', '127.0.0.1', '-p', String(port)],
    ready: async (url) => {
      const res = await fetch(`${url}/moto-api/data.json`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return res.ok;
    },
  });
  return {
    endpoint: server.url,
    pid: server.child.pid,
    reset: async () => {
      const res = await fetch(`${server.url}/moto-api/reset`, { method: 'POST' });
      await res.arrayBuffer();
    },
    stop: () => server.stop(),
  };
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
  const listenerArn = await addListener(client, loadBalancerArn, platformTargetGroupArn, 80);
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
export function createListener(world: AlbWorld, port: number): Promise<string> {
  return addListener(world.client, world.loadBalancerArn, world.platformTargetGroupArn, port);
}

async function addListener(
  client: ElasticLoadBalancingV2Client,
  loadBalancerArn: string,
  targetGroupArn: string,
  port: number,
): Promise<string> {
  const listener = await client.send(
    new CreateListenerCommand({
      LoadBalancerArn: loadBalancerArn,
      Protocol: 'HTTP',
      Port: port,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
    }),
  );
  const arn = listener.Listeners?.[0]?.ListenerArn;
  if (!arn) throw new Error(`moto created no listener on port ${port}`);
  return arn;
}
