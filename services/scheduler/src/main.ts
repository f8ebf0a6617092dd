import { runService } from "@gapfill/kit";
import { schedulerService } from "./service.ts";

await runService(schedulerService);
