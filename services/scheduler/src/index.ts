export { startScheduler, type SchedulerDeps } from "./scheduler.ts";
export { schedulerService } from "./service.ts";
export { systemClock, type SchedulerClock } from "./clock.ts";
export { publishTickOnce, type TickOutcome, type TickResult } from "./publish-tick.ts";
