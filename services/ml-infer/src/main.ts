import { runService } from "@gapfill/kit";
import { mlInferService } from "./service.ts";

await runService(mlInferService);
