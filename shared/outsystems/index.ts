/**
 * The Node-side pieces of the OutSystems integration that both sides need: the hook server (client/outsystems) at
 * the door and the activities (activities/outsystems) again inside the worker. Path confinement of the paths a hook
 * call names, and the result files LifeTime waits for (written atomically, through one writer). It imports neither
 * the activities nor the client; workflows never import it (it uses Node's file system).
 */
export { confinePath, fileIn, isInside, PathRejectedError, realRoots } from './paths';
export { errorResult, resultContent, resultFileExists, writeResultFile, writeResultFileAtomic } from './result-files';
