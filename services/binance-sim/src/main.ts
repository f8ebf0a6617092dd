import { runService } from "@gapfill/kit";
import { simService } from "./service.ts";

await runService(simService);
