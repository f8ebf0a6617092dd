/**
 * The AWS Deep Learning Container a SageMaker training job runs in: `pytorch-training` from the region's DLC
 * registry, tagged `<version>.0-<gpu|cpu>-py310[-<cuda>]-ubuntu20.04-sagemaker`, the image the SageMaker Python SDK
 * picks for a PyTorch estimator of that framework version.
 */

/** DLC registry accounts where they differ from 763104351884 (the aws/deep-learning-containers region table). */
const REGISTRY_EXCEPTIONS: Readonly<Record<string, string>> = {
  "af-south-1": "626614931356",
  "ap-east-1": "871362719292",
  "ap-northeast-3": "364406365360",
  "ap-southeast-3": "907027046896",
  "eu-south-1": "692866216735",
  "me-south-1": "217643126080",
  "me-central-1": "914824155844",
  "cn-north-1": "727897471807",
  "cn-northwest-1": "727897471807",
};
const DEFAULT_REGISTRY_REGIONS = new Set([
  "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
  "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
  "eu-north-1", "sa-east-1",
]);
const DEFAULT_REGISTRY = "763104351884";

/** CUDA build of each framework version's GPU image (all py310 on Ubuntu 20.04). */
const GPU_CUDA: Readonly<Record<string, string>> = { "2.0": "cu118", "2.1": "cu121", "2.2": "cu121" };

/** A setting the image cannot be derived from; SM_TRAINING_IMAGE names the image instead. */
export class TrainingImageError extends Error {
  override name = "TrainingImageError";
}

/** GPU instance families: ml.g* and ml.p* (ml.g4dn.xlarge, ml.p3.2xlarge, …). */
export function isGpuInstance(instanceType: string): boolean {
  return /^ml\.[gp]\d/.test(instanceType);
}

export interface TrainingImageSettings {
  region: string;
  frameworkVersion: string;
  instanceType: string;
  /** SM_TRAINING_IMAGE: used as is when set. */
  override?: string | undefined;
}

export function trainingImageUri({ region, frameworkVersion, instanceType, override }: TrainingImageSettings): string {
  if (override) return override;
  const account = REGISTRY_EXCEPTIONS[region] ?? (DEFAULT_REGISTRY_REGIONS.has(region) ? DEFAULT_REGISTRY : undefined);
  if (!account) {
    throw new TrainingImageError(`AWS_REGION=${region}: no Deep Learning Container registry is known for it; set SM_TRAINING_IMAGE`);
  }
  const cuda = GPU_CUDA[frameworkVersion];
  if (!cuda) {
    throw new TrainingImageError(
      `SM_FRAMEWORK_VERSION=${frameworkVersion}: expected one of ${Object.keys(GPU_CUDA).join(", ")}, or set SM_TRAINING_IMAGE`,
    );
  }
  const domain = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  const device = isGpuInstance(instanceType) ? `gpu-py310-${cuda}` : "cpu-py310";
  return `${account}.dkr.ecr.${region}.${domain}/pytorch-training:${frameworkVersion}.0-${device}-ubuntu20.04-sagemaker`;
}
