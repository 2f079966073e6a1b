/**
 * A section that is exactly one of several keys (`provider: {prometheus: ...}`, a canary step `{setWeight: 10}`),
 * validated as one object so a bad inner field is named (a zod union would only say "Invalid input").
 *
 * Part of the deployment spec (workflows/spec/index.ts): pure, zod at most and no Node built-ins, so workflows import it.
 */
import { z } from 'zod';

/** Exactly one of T's keys is set; the others are absent (`never`), so both `'k' in v` and `v.k !== undefined` narrow. */
export type OneOf<T extends object> = {
  [K in keyof T]: { [P in K]-?: Exclude<T[P], undefined> } & { [P in Exclude<keyof T, K>]?: never };
}[keyof T];

/** An object of which exactly one key of `shape` is given; `what` names the section in the error ("a provider"). */
export function oneOf<Shape extends z.ZodRawShape>(shape: Shape, what: string) {
  const keys = Object.keys(shape);
  const expected = `${what} is exactly one of ${keys.join(', ')}`;
  return z
    .object(shape)
    .partial()
    .strict()
    .superRefine((value, ctx) => {
      const given = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
      if (given.length !== 1) {
        ctx.addIssue({ code: 'custom', message: `${expected} (got ${given.length ? given.join(' and ') : 'none'})` });
      }
    })
    .transform((value) => {
      const key = keys.find((k) => (value as Record<string, unknown>)[k] !== undefined) as string;
      return { [key]: (value as Record<string, unknown>)[key] } as OneOf<z.output<z.ZodObject<Shape>>>;
    });
}
