/** The ALB driver's configuration: the spec's `router` section of kind aws-alb, durations in milliseconds. */
export interface AwsAlbRouterConfig {
  region: string;
  endpoint?: string;
  listenerArn: string;
  platformTargetGroupArn?: string;
  targetGroups?: {
    vpcId: string;
    port: number;
    protocol: 'HTTP' | 'HTTPS';
    namePrefix: string;
    healthCheck: {
      path: string;
      interval: number;
      timeout: number;
      healthyThreshold: number;
      unhealthyThreshold: number;
      matcher: string;
    };
    deregistrationDelay: number;
  };
  targetGroupArns: Record<string, string>;
  rulePriorities: { first: number; last: number };
  pathPatterns: string[];
  previewHeader: string;
  shift?: { steps: number[]; interval: number };
  targetHealthTimeout: number;
  drainTimeout: number;
  publicUrl?: string;
}

/** The backend name of the platform server's target group (the listener's default action). */
export const DEFAULT_BACKEND = 'default';
