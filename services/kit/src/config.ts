import type { z } from "zod";
import { redactUrlCredentials } from "./redact.ts";

/** A configuration that cannot work: restarting the process cannot help (exit status 78). */
export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}

/** Environment variables that failed their zod schema, each with what it expects and what arrived. */
export class ConfigError extends ConfigurationError {
  override name = "ConfigError";
  readonly problems: readonly { variable: string; message: string }[];

  constructor(
    problems: readonly { variable: string; message: string }[],
    service: string,
  ) {
    super(
      `${service}: invalid configuration\n` + problems.map((p) => `  ${p.variable}: ${p.message}`).join("\n"),
    );
    this.problems = problems;
  }
}

export type Env = Record<string, string | undefined>;

/**
 * Environment → zod → typed config. Empty strings count as unset (an `.env` line `KEY=` keeps the default).
 * Throws a ConfigError naming each bad variable, what it expects and what arrived.
 */
export function loadConfig<S extends z.ZodType>(schema: S, service: string, env: Env = process.env): z.infer<S> {
  const present: Env = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== "") present[key] = value;
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? "(environment)");
    const got = present[variable];
    const shown = got === undefined ? "unset" : JSON.stringify(isSecretName(variable) ? "***" : redactUrlCredentials(got));
    return { variable, message: `${issue.message} (got ${shown})` };
  });
  throw new ConfigError(problems, service);
}

function isSecretName(variable: string): boolean {
  return /SECRET|KEY|PASSWORD|TOKEN/.test(variable);
}

/** For `main.ts`: load the config or print why not and exit with status 78 (EX_CONFIG). */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, service: string, env: Env = process.env): z.infer<S> {
  try {
    return loadConfig(schema, service, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
}
