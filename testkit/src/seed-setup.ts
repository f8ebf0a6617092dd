/**
 * Setup of every test file: property tests draw from one fixed seed, so a run is reproducible and a failure comes
 * back the same way. `FC_SEED=<n> npm test` explores other cases.
 */
import fc from "fast-check";

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20_261_129) });
