import { z } from "zod";
import { LABEL_HORIZON_MS, trainingHyperparametersSchema } from "../model.ts";
import { BAR_MS } from "../time.ts";
import { commonEnv, metricsHostEnv } from "./common.ts";
import { envInt, envNumber, envUrl, portSchema, whenFieldsValid } from "./env.ts";
import { modelPointerEnv, objectStoreEnv } from "./objects.ts";
import { refineStoreAccess, storeEnv } from "./store.ts";

/** The trainers' shared defaults (contracts' trainingHyperparametersSchema, also train.py's argparse defaults). */
const HP = trainingHyperparametersSchema.parse({});

/**
 * ml-runner: on each retrain tick, export `ai_outputs` joined with labels from `price_15s`, train (in-process, or
 * on SageMaker when SAGEMAKER_ROLE_ARN is set), gate the candidate against the published model, publish latest.json.
 */
export const mlRunnerConfigSchema = z
  .object({
    ...commonEnv,
    ...metricsHostEnv,
    ...storeEnv,
    ...objectStoreEnv,
    /** Key prefix of each run's files: `<TRAIN_PREFIX>/<run_id>/{train.jsonl,manifest.json,run.json,model.onnx,metrics.json}`. */
    TRAIN_PREFIX: z.string().trim().min(1).default("train"),
    /** Key prefix of published models (`<MODEL_PREFIX>/<version>/…`) and of SageMaker job output (`<MODEL_PREFIX>/jobs/`). */
    MODEL_PREFIX: z.string().trim().min(1).default("model"),
    ...modelPointerEnv,
    /** Rows exported per run: embeddings with ts in the TRAIN_WINDOW_HOURS before the tick's window start. */
    TRAIN_WINDOW_HOURS: envNumber(168, 0.05, 24 * 366),
    /** Label horizon: a row is labelled up when the close this many seconds after its ts is above its close. */
    ML_HORIZON_SECONDS: envInt(LABEL_HORIZON_MS / 1000, BAR_MS / 1000, 7 * 24 * 3600).refine((seconds) => (seconds * 1000) % BAR_MS === 0, {
      message: `expected a multiple of ${BAR_MS / 1000} seconds (one bar)`,
      // Only for a value in range: one problem per variable.
      ...whenFieldsValid,
    }),
    /** Fewer labelled rows than this (or rows of one class only) skip the run instead of training. */
    ML_MIN_ROWS: envInt(500, 10, 100_000_000),
    /** How much worse (holdout log loss) a candidate may be than the published model and still replace it. */
    ML_GATE_TOLERANCE: envNumber(0, 0, 10),
    /** Seed of the in-process trainer (and train.py): the same rows and seed give the same model. */
    ML_SEED: envInt(HP.seed, 0, 2_147_483_647),
    /** Training epochs. */
    ML_EPOCHS: envInt(HP.epochs, 1, 10_000),
    /** Hidden units of the one-hidden-layer network. */
    ML_HIDDEN: envInt(HP.hidden, 1, 4096),
    /** Adam learning rate. */
    ML_LEARNING_RATE: envNumber(HP.lr, 1e-7, 10),
    /** Mini-batch size. */
    ML_BATCH_SIZE: envInt(HP.batch_size, 1, 1_000_000),
    /** L2 weight penalty. */
    ML_L2: envNumber(HP.l2, 0, 10),
    /**
     * Share of the newest rows held out to evaluate and gate (training rows whose label horizon reaches it are
     * dropped).
     */
    ML_HOLDOUT_FRACTION: envNumber(HP.holdout_fraction, 0.01, 0.9),
    /** Deliveries of one tick before the run is given up (`ml.run.failed` with final: true). */
    ML_MAX_DELIVERIES: envInt(5, 1, 100),
    /** JetStream ack wait of the tick consumer; a live runner renews it (in-progress acks) every third of it. */
    ML_ACK_WAIT_SECONDS: envInt(60, 1, 3600),
    /** The ml-runner's metrics port (`0` = any free port). */
    ML_RUNNER_METRICS_PORT: portSchema(9106),
    /** When set, training runs as a SageMaker training job under this role; unset: in-process. */
    SAGEMAKER_ROLE_ARN: z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, "expected an IAM role ARN").optional(),
    /** Another SageMaker API endpoint (a VPC endpoint, a stand-in); unset: the region's public endpoint. */
    SAGEMAKER_ENDPOINT: envUrl(["http", "https"]).optional(),
    /** SageMaker training instance type (GPU images for the ml.g and ml.p families). */
    SM_TRAIN_INSTANCE: z
      .string()
      .trim()
      .regex(/^ml\.[a-z0-9-]+\.[a-z0-9]+$/, "expected a SageMaker instance type like ml.g4dn.xlarge")
      .default("ml.g4dn.xlarge"),
    /** PyTorch version of the SageMaker training image (`pytorch-training:<version>.0-…`). */
    SM_FRAMEWORK_VERSION: z
      .string()
      .trim()
      .regex(/^\d+\.\d+$/, "expected a PyTorch major.minor version like 2.2")
      .default("2.2"),
    /** A training image URI to use instead of the AWS Deep Learning Container picked from the settings above. */
    SM_TRAINING_IMAGE: z
      .string()
      .trim()
      .regex(/^[^\s/]+\/[^\s]+(:[^\s:/]+|@sha256:[0-9a-f]{64})$/, "expected an image URI like <registry>/<repository>:<tag>")
      .optional(),
    /** StoppingCondition.MaxRuntimeInSeconds of each training job. */
    SM_MAX_RUNTIME_SECONDS: envInt(3600, 60, 28 * 24 * 3600),
    /** How often a running training job is polled (DescribeTrainingJob). */
    SM_POLL_SECONDS: envNumber(30, 0.05, 600),
  })
  .superRefine(refineStoreAccess("read"), whenFieldsValid);
export type MlRunnerConfig = z.infer<typeof mlRunnerConfigSchema>;

/**
 * The SageMaker stand-in of the test support (testkit): it runs the repository's train.py with this interpreter, one
 * that has torch (Debian's python3-torch installs it for /usr/bin/python3). Not a setting of any service.
 */
export const sagemakerStandInConfigSchema = z.object({
  TRAIN_PYTHON: z.string().trim().min(1, "expected the path of a python3 that imports torch").default("/usr/bin/python3"),
});
export type SagemakerStandInConfig = z.infer<typeof sagemakerStandInConfigSchema>;
