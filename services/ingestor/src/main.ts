import { runService } from "@gapfill/kit";
import { ingestorService } from "./service.ts";

await runService(ingestorService);
