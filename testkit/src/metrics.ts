import type { Registry } from "@gapfill/kit";

/**
 * The value of a metric series in a registry, summed over the series whose labels include every one of `labels`
 * (all series when none are given). A histogram's series are named as Prometheus shows them: `<name>_count`,
 * `<name>_sum`, `<name>_bucket`.
 */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  let total = 0;
  let found = false;
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const value of metric.values as { value: number; labels: Record<string, unknown>; metricName?: string }[]) {
      if ((value.metricName ?? metric.name) !== name) continue;
      found = true;
      if (Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted)) total += Number(value.value);
    }
  }
  if (!found && !(await registry.getMetricsAsJSON()).some((metric) => metric.name === name)) throw new Error(`no metric ${name}`);
  return total;
}
