/** Every workflow the worker registers (its `workflowsPath`). */
export { blueGreenDeployment } from './blue-green';
export { rollingUpdateDeployment } from './rolling-update';
export { outSystemsHookOperation, retireApplication } from './outsystems-hooks';
