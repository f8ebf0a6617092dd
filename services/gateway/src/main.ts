import { runService } from "@gapfill/kit";
import { gatewayService } from "./service.ts";

await runService(gatewayService);
