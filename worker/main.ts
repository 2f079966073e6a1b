/** Entry point: `node dist/worker/main.js` (or `cutover worker`). */
import { runWorker } from '.';

// Exit 0 once the worker has drained (SIGTERM included): nothing else may keep the process alive.
runWorker().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
