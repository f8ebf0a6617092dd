/**
 * Node arguments that let `node` run a TypeScript entry point: none where Node strips types itself (22.18 and later,
 * the production image's 24), tsx's loader where it cannot (20). For processes this one spawns: services, helpers.
 */
export const TYPESCRIPT_NODE_ARGS: readonly string[] = (process.features as { typescript?: string | false }).typescript
  ? []
  : ["--import", "tsx"];
