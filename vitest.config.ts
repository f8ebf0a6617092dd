import { defineConfig } from "vitest/config";

/** Every test file, wherever it lives; `*.unit.test.ts` files are the unit tier. */
const ALL_TESTS = [
  "contracts/test/**/*.test.ts",
  "services/*/test/**/*.test.ts",
  "chaos/test/**/*.test.ts",
  "scripts/**/*.test.ts",
  "deploy/**/*.test.ts",
];
const UNIT_TESTS = ALL_TESTS.map((pattern) => pattern.replace(/\*\.test\.ts$/, "*.unit.test.ts"));

// Two tiers in one run (`npm test`): unit (pure modules, no servers, no processes: `npm run test:unit`) and
// integration (real NATS, PostgreSQL, processes, Chromium). Files may run in parallel: tests namespace everything they
// create and wait on conditions with deadlines, never on bare sleeps.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // A run where no test is found is a failure, not a pass.
    passWithNoTests: false,
    setupFiles: ["testkit/src/seed-setup.ts"],
    projects: [
      // Pure modules need no isolation between files: one module graph per worker keeps the tier fast.
      { extends: true, test: { name: "unit", include: UNIT_TESTS, setupFiles: ["testkit/src/seed-setup.ts", "testkit/src/unit-setup.ts"], pool: "threads", isolate: false } },
      { extends: true, test: { name: "integration", include: ALL_TESTS, exclude: [...UNIT_TESTS, "**/node_modules/**"] } },
    ],
  },
});
