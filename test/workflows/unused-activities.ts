/**
 * Stubs for activities a test world does not implement (each world fakes only
 * the activities its workflow calls): calling one fails loudly, naming it.
 */
export function unusedActivities<T extends object>(names: (keyof T & string)[], world: string): T {
  const stubs: Record<string, () => Promise<never>> = {};
  for (const name of names) {
    stubs[name] = () => Promise.reject(new Error(`activity ${name} is not faked by the ${world} test world`));
  }
  return stubs as T;
}
