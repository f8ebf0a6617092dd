import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { CONFIG_SCHEMAS } from "@gapfill/contracts";
import { CONFIGURATION_DOC, renderConfigurationDoc, variableDocs } from "./config-docs.ts";

it("docs/configuration.md is what the schemas generate (else: npm run docs:config)", () => {
  expect(readFileSync(CONFIGURATION_DOC, "utf8")).toBe(renderConfigurationDoc());
});

it("lists every variable of every process, each with a meaning", () => {
  const doc = readFileSync(CONFIGURATION_DOC, "utf8");
  const docs = variableDocs();
  for (const { schema } of CONFIG_SCHEMAS) {
    for (const variable of Object.keys(schema.shape)) {
      expect(doc, variable).toContain(`| \`${variable}\` |`);
      expect(docs.get(variable), variable).toMatch(/\w/);
    }
  }
});
