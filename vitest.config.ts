import { defineConfig } from "vitest/config";

// One run over every workspace. Tests talk to real NATS and PostgreSQL and namespace everything they create,
// so files may run in parallel; a test waits on conditions with deadlines, never on bare sleeps.
export default defineConfig({
  test: {
    include: ["contracts/test/**/*.test.ts", "services/*/test/**/*.test.ts", "chaos/test/**/*.test.ts", "scripts/**/*.test.ts", "deploy/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // A run where no test is found is a failure, not a pass.
    passWithNoTests: false,
  },
});
