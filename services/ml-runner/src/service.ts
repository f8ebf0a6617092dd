import { fileURLToPath } from "node:url";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { mlRunnerConfigSchema, type MlRunnerConfig } from "@gapfill/contracts";
import { ConfigurationError, objectStoreSelection, openObjectStore, openStore, type NatsServiceSpec, type ObjectStore } from "@gapfill/kit";
import { jetstream } from "@nats-io/jetstream";
import { runEvents } from "./events.ts";
import { localTrainer } from "./local-trainer.ts";
import { createRunnerMetrics } from "./metrics.ts";
import { startRunner } from "./runner.ts";
import { TrainingImageError, trainingImageUri } from "./sagemaker/image.ts";
import { sageMakerTrainer } from "./sagemaker/trainer.ts";
import { runSettingsOf } from "./settings.ts";
import type { Trainer } from "./trainer.ts";

/** The SageMaker entry point, packed into each job's sourcedir.tar.gz. */
export const TRAIN_PY = fileURLToPath(new URL("../sagemaker/train.py", import.meta.url));

/** The trainer a configuration selects: SageMaker when SAGEMAKER_ROLE_ARN is set, else in-process. */
export function trainerFor(config: MlRunnerConfig, objects: ObjectStore): { trainer: Trainer; close(): void } {
  const roleArn = config.SAGEMAKER_ROLE_ARN;
  if (!roleArn) return { trainer: localTrainer(), close: () => {} };
  const client = new SageMakerClient({ region: config.AWS_REGION, ...(config.SAGEMAKER_ENDPOINT ? { endpoint: config.SAGEMAKER_ENDPOINT } : {}) });
  const trainer = sageMakerTrainer({
    client,
    objects,
    bucket: config.LANDING_BUCKET,
    region: config.AWS_REGION,
    namespace: config.NATS_NAMESPACE,
    trainPrefix: config.TRAIN_PREFIX,
    modelPrefix: config.MODEL_PREFIX,
    roleArn,
    instanceType: config.SM_TRAIN_INSTANCE,
    image: trainingImageUri({
      region: config.AWS_REGION,
      frameworkVersion: config.SM_FRAMEWORK_VERSION,
      instanceType: config.SM_TRAIN_INSTANCE,
      override: config.SM_TRAINING_IMAGE,
    }),
    maxRuntimeSeconds: config.SM_MAX_RUNTIME_SECONDS,
    pollMs: Math.round(config.SM_POLL_SECONDS * 1000),
    programPath: TRAIN_PY,
  });
  return { trainer, close: () => client.destroy() };
}

/** What SageMaker mode needs that the schema alone cannot check; thrown as a configuration error (exit 78). */
export function checkSageMakerSetup(config: MlRunnerConfig): void {
  if (!config.SAGEMAKER_ROLE_ARN) return;
  const objectStore = objectStoreSelection(config);
  if (objectStore.kind !== "s3") {
    throw new ConfigurationError(
      `SAGEMAKER_ROLE_ARN is set but the object store is the local directory (${objectStore.reason}): SageMaker reads its ` +
        "training channel from S3; set OBJECT_STORE=s3, or unset SAGEMAKER_ROLE_ARN to train in-process",
    );
  }
  try {
    trainingImageUri({ region: config.AWS_REGION, frameworkVersion: config.SM_FRAMEWORK_VERSION, instanceType: config.SM_TRAIN_INSTANCE, override: config.SM_TRAINING_IMAGE });
  } catch (error) {
    if (error instanceof TrainingImageError) throw new ConfigurationError(error.message);
    throw error;
  }
}

/** Retrain ticks → export → train → gate → latest.json. */
export const mlRunnerService: NatsServiceSpec<typeof mlRunnerConfigSchema> = {
  name: "ml-runner",
  configSchema: mlRunnerConfigSchema,
  needs: ["mlTicks", "mlEvents"],
  metrics: (config) => ({ port: config.ML_RUNNER_METRICS_PORT, host: config.METRICS_HOST }),
  start: async ({ config, nc, names, log, registry }) => {
    checkSageMakerSetup(config);
    const store = await openStore(config, { log, access: "read", applicationName: "gapfill-ml-runner" });
    const objects = await openObjectStore(config, { log }).catch(async (error: unknown) => {
      await store.close();
      throw error;
    });
    const { trainer, close } = trainerFor(config, objects);
    const release = async () => {
      close();
      await objects.close();
      await store.close();
    };
    const runner = await startRunner({
      nc,
      names,
      deps: { store, objects, trainer, events: runEvents(jetstream(nc), names), metrics: createRunnerMetrics(registry), log },
      settings: runSettingsOf(config),
      maxDeliveries: config.ML_MAX_DELIVERIES,
      ackWaitMs: config.ML_ACK_WAIT_SECONDS * 1000,
    }).catch(async (error: unknown) => {
      await release();
      throw error;
    });
    return {
      ready: runner.ready,
      done: runner.done,
      stop: async () => {
        await runner.stop();
        await release();
      },
    };
  },
};
