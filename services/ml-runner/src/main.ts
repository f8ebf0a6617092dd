import { runService } from "@gapfill/kit";
import { mlRunnerService } from "./service.ts";

await runService(mlRunnerService);
