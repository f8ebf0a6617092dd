import { z } from "zod";
import { NAMESPACE_PATTERN } from "../names.ts";
import { SYMBOL_PATTERN } from "../symbol.ts";

/**
 * Builders for environment variables. Each takes the raw string (or undefined when unset) and states the expected
 * form in its error message, so a bad value is reported as "VARIABLE: expected …".
 */
export function envInt(defaultValue: number, min: number, max: number) {
  const expected = `expected an integer from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, expected)
    .transform(Number)
    .refine((n) => n >= min && n <= max, expected)
    .default(defaultValue);
}

export function envNumber(defaultValue: number, min: number, max: number) {
  const expected = `expected a number from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^-?(\d+\.?\d*|\.\d+)$/, expected)
    .transform(Number)
    .refine((n) => n >= min && n <= max, expected)
    .default(defaultValue);
}

/** true/false, also 1/0, yes/no and on/off. */
export function envBool(defaultValue: boolean) {
  return z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], { error: "expected true or false (or on/off)" })
    .transform((v) => v === "true" || v === "1" || v === "yes" || v === "on")
    .default(defaultValue);
}

/** An absolute URL whose scheme is one of `protocols` (e.g. ["http", "https"]). */
export function envUrl(protocols: readonly string[]) {
  const expected = `expected an absolute ${protocols.join("/")} URL`;
  return z
    .string()
    .trim()
    .refine((value) => {
      try {
        return protocols.includes(new URL(value).protocol.replace(/:$/, ""));
      } catch {
        return false;
      }
    }, expected)
    .transform((value) => value.replace(/\/+$/, ""));
}

/** A comma-separated list; blanks between commas are ignored. */
export function envList<T extends z.ZodType<string, string>>(item: T) {
  return z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part.length > 0),
    )
    .pipe(z.array(item));
}

/** `LOG_FORMAT`: JSON lines, or readable lines; unset: pretty on a terminal, else JSON. */
export const logFormatSchema = z.enum(["json", "pretty"], { error: "expected json or pretty" }).optional();

export const logLevelSchema = z
  .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
    error: "expected one of fatal, error, warn, info, debug, trace, silent",
  })
  .default("info");

/** `BINANCE_SYMBOL`: one symbol or a comma list, case-insensitive, de-duplicated. */
export const symbolListSchema = z
  .string()
  .default("BTCUSDT")
  .transform((value) => [
    ...new Set(
      value
        .split(",")
        .map((part) => part.trim().toUpperCase())
        .filter((part) => part.length > 0),
    ),
  ])
  .pipe(
    z
      .array(z.string().regex(SYMBOL_PATTERN, "expected symbols like BTCUSDT (letters and digits, comma separated)"))
      .min(1, "expected at least one symbol"),
  );

/** `NATS_URL`: one server or a comma list, each `nats://host:port` (also tls://, ws://, wss://) or `host:port`. */
export const natsUrlSchema = z
  .string()
  .trim()
  .default("nats://127.0.0.1:4222")
  .refine(
    (value) =>
      value.length > 0 &&
      value.split(",").every((server) => /^((nats|tls|ws|wss):\/\/)?([^\s:/@]+(:[^\s:/@]*)?@)?[\w.-]+(:\d{1,5})?$/.test(server.trim())),
    "expected nats://host:port (or a comma list of them)",
  );

export const namespaceSchema = z
  .string()
  .trim()
  .default("")
  .refine((value) => NAMESPACE_PATTERN.test(value), "expected up to 32 letters, digits, '_' or '-'");

export const portSchema = (defaultPort: number) => envInt(defaultPort, 0, 65535);

/**
 * Params for a cross-field refinement: run it only when every field parsed, so a bad value is reported once, by its
 * own variable, not again by a rule that reads it.
 */
export const whenFieldsValid = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };
