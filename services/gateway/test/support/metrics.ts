import type { RunningGateway } from "./env.ts";

/** The value of an unlabelled metric (or the sum over its labels) from the gateway's /metrics. */
export async function metricValue(gw: RunningGateway, name: string): Promise<number> {
  const response = await gw.app.inject({ method: "GET", url: "/metrics" });
  let total = 0;
  for (const line of response.body.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest.startsWith(" ") || rest.startsWith("{")) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}
