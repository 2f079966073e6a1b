/**
 * The operation workflow's last step: the result file LifeTime waits for, written through the one writer of result
 * files (shared/outsystems/result-files.ts) into ResultPath, confined again to the result roots.
 */
import { writeResultFile } from '../../shared/outsystems';
import { confined } from './layout';

export interface WriteHookResultInput {
  resultPath: string;
  resultRoots: string[];
  fileName: string;
  content: string;
}

export function createResultFileActivities() {
  return {
    /** Writes `<ApplicationKey>_<OperationId>.<ext>` into ResultPath, atomically. */
    async writeHookResult(input: WriteHookResultInput): Promise<void> {
      const dir = await confined('ResultPath', input.resultPath, input.resultRoots);
      await writeResultFile(dir, input.fileName, input.content);
    },
  };
}
