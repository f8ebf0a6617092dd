import { runService } from "@gapfill/kit";
import { provisionService } from "./service.ts";

await runService(provisionService);
