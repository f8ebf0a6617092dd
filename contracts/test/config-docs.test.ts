import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import * as config from "../src/config/index.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const configSection = readme.slice(readme.indexOf("## Configuration"));

/** Every `…ConfigSchema` that contracts export: one per service. */
const schemas = Object.entries(config as Record<string, unknown>).filter(
  (entry): entry is [string, z.ZodObject] => entry[0].endsWith("ConfigSchema") && entry[1] instanceof z.ZodObject,
);

describe("README configuration table", () => {
  it("finds the service schemas", () => {
    expect(schemas.map(([name]) => name)).toEqual(expect.arrayContaining(["gatewayConfigSchema", "ingestorConfigSchema", "recorderConfigSchema"]));
  });

  it.each(schemas)("documents every variable of %s", (_name, schema) => {
    const missing = Object.keys(schema.shape).filter((variable) => !configSection.includes(`\`${variable}\``));
    expect(missing).toEqual([]);
  });
});
