/** Keeps test output readable: the Temporal runtime logs warnings and errors only. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });
