/** Every workflow the worker registers (its `workflowsPath`). */
export { blueGreenDeployment } from './blue-green';
export { rollingUpdateDeployment } from './rolling-update';
export { canaryDeployment } from './canary';
export { outSystemsHookOperation } from './outsystems/operation';
export { retireApplication } from './outsystems/retire';
