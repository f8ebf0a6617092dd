import { runService } from "@gapfill/kit";
import { embedderService } from "./service.ts";

await runService(embedderService);
