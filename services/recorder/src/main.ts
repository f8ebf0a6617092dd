import { runService } from "@gapfill/kit";
import { recorderService } from "./service.ts";

await runService(recorderService);
