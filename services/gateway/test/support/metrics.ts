import type { RunningGateway } from "./env.ts";

/**
 * The value of a metric in the gateway's registry, in Prometheus text form, summed over the series whose labels include every one of
 * `labels` (all series when none are given).
 */
export async function metricValue(gw: RunningGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await gw.registry.metrics();
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!rest.startsWith(" ") && !rest.startsWith("{")) continue;
    const labelText = rest.startsWith("{") ? rest.slice(1, rest.indexOf("}")) : "";
    if (wanted.every((pair) => labelText.split(",").includes(pair))) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}
