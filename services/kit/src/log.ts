import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  service: string;
  level?: LevelWithSilent;
  /** Readable lines instead of JSON; defaults to on when stdout is a terminal (LOG_FORMAT=json|pretty overrides). */
  pretty?: boolean;
}

/** Redacted anywhere they appear in a logged object, so tokens never reach the logs. */
const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "req.headers.authorization",
  "headers.authorization",
  "token",
  "*.token",
  "password",
  "*.password",
];

export function createLogger({ service, level = "info", pretty }: LoggerOptions): Logger {
  const format = process.env.LOG_FORMAT;
  const usePretty = pretty ?? (format ? format === "pretty" : Boolean(process.stdout.isTTY));
  return pino({
    name: service,
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(usePretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname,service" } } }
      : {}),
  });
}
