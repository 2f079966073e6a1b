/** Entry point: `node dist/worker/main.js` (or `cutover worker`). */
import { runWorker } from '.';

runWorker().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
