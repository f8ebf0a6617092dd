/**
 * The production image carries what services run and no test code: the Dockerfile copies only runtime files, the
 * build context leaves test folders out, and no runtime source or dependency reaches the test support.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { REPO_ROOT } from "@gapfill/kit";

const read = (path: string) => readFileSync(join(REPO_ROOT, path), "utf8");
const RUNTIME_FILES = ["package.json", "package-lock.json", ".npmrc", "nats.conf", "tsconfig.base.json", "contracts", "services"];
const TEST_ONLY = ["testkit", "chaos", "bench", "scripts", "deploy", "docs"];

/** Source paths of the Dockerfile's COPY instructions from the build context (not `--from` a stage). */
function copiedPaths(): string[] {
  return read("Dockerfile")
    .split("\n")
    .filter((line) => /^COPY\s/.test(line) && !/--from=/.test(line))
    .flatMap((line) => line.trim().split(/\s+/).slice(1, -1));
}

it("copies only runtime files into the image", () => {
  const copied = copiedPaths();
  expect(copied.length).toBeGreaterThan(5);
  for (const path of copied) {
    const top = path.split("/")[0]!;
    expect(RUNTIME_FILES, path).toContain(top);
    expect(TEST_ONLY, path).not.toContain(top);
  }
});

it("leaves every test folder out of the build context", () => {
  const ignored = read(".dockerignore").split("\n").map((line) => line.trim());
  expect(ignored).toContain("**/test");
});

it("has no runtime source importing test support, and no runtime workspace depending on it", () => {
  const workspaces = ["contracts", ...readdirSync(join(REPO_ROOT, "services")).map((name) => `services/${name}`)];
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|js)$/.test(entry.name) && /from "(@gapfill\/testkit|vitest|fast-check|playwright-core)"/.test(read(path))) offenders.push(path);
    }
  };
  for (const workspace of workspaces) {
    walk(`${workspace}/src`);
    const manifest = JSON.parse(read(`${workspace}/package.json`)) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest.dependencies ?? {}), workspace).not.toContain("@gapfill/testkit");
  }
  expect(offenders).toEqual([]);
});
