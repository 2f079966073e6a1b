/** Every workflow the worker registers (its `workflowsPath`). */
export { blueGreenDeployment } from './blue-green';
export { outSystemsHookOperation, retireApplication } from './outsystems-hooks';
