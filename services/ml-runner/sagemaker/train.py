"""SageMaker training entry point for the prob_up model.

Reads the `train` channel (manifest.json and the .jsonl row files it names, as ml-runner's export writes them),
trains the same network as ml-runner's in-process trainer (Linear -> ReLU -> Linear -> Sigmoid, inputs standardized
with the training rows' mean and std, folded into the first layer), evaluates it on the same time-ordered holdout
with the same embargo, and writes model.onnx and metrics.json to SM_MODEL_DIR (SageMaker packs them into
model.tar.gz) and the per-epoch training loss to SM_OUTPUT_DATA_DIR.

Hyperparameters arrive as `--name value` (defaults: contracts' trainingHyperparametersSchema). Any failure exits
non-zero with one line on stderr, also written to SM_OUTPUT_DIR/failure, which SageMaker reports as the job's
FailureReason. Runs under torch 1.13 (Debian) and 2.2 (SageMaker's PyTorch image); needs nothing else.
"""

import argparse
import hashlib
import inspect
import json
import math
import os
import sys
from pathlib import Path

import torch

# The scoring contract and metric conventions, as stated in contracts/src/model.ts.
INPUT_NAME = "embedding"
OUTPUT_NAME = "prob_up"
OPSET = 17
MANIFEST_FILE = "manifest.json"
LOG_LOSS_EPSILON = 1e-7
ROW_KEYS = {"symbol", "ts", "embedding", "label"}
MANIFEST_KEYS = {"rows", "positives", "window", "feature_version", "dimension", "label_horizon_ms", "sha256"}


class TrainingError(Exception):
    """A problem with the input or the hyperparameters: reported as the job's failure reason."""


class HyperparameterParser(argparse.ArgumentParser):
    def error(self, message):
        raise TrainingError(f"hyperparameters: {message}")


def bounded(kind, low, high=None, low_open=False, high_open=False):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}")
        too_low = value <= low if low_open else value < low
        too_high = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or too_low or too_high:
            lower = f"{'>' if low_open else '>='} {low}"
            upper = "" if high is None else f" and {'<' if high_open else '<='} {high}"
            raise argparse.ArgumentTypeError(f"expected a number {lower}{upper}, got {text}")
        return value

    return parse


def parse_hyperparameters(argv):
    parser = HyperparameterParser(description="train the prob_up model")
    parser.add_argument("--seed", type=bounded(int, 0), default=1)
    parser.add_argument("--epochs", type=bounded(int, 1), default=12)
    parser.add_argument("--hidden", type=bounded(int, 1), default=16)
    parser.add_argument("--lr", type=bounded(float, 0, low_open=True), default=0.003)
    parser.add_argument("--batch_size", type=bounded(int, 1), default=256)
    parser.add_argument("--l2", type=bounded(float, 0), default=1e-4)
    # Default: the label horizon the training set's manifest states.
    parser.add_argument("--horizon_ms", type=bounded(int, 0), default=None)
    parser.add_argument("--holdout_fraction", type=bounded(float, 0, 1, low_open=True, high_open=True), default=0.2)
    hp, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"train.py: ignoring unknown arguments {unknown}", file=sys.stderr)
    return hp


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(channel):
    path = channel / MANIFEST_FILE
    if not path.is_file():
        found = sorted(p.name for p in channel.iterdir()) if channel.is_dir() else None
        raise TrainingError(f"{path} not found (channel holds {found if found is not None else 'nothing: no such directory'})")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise TrainingError(f"{path}: not JSON ({error})")
    if not isinstance(manifest, dict) or set(manifest) != MANIFEST_KEYS:
        raise TrainingError(f"{path}: expected the keys {sorted(MANIFEST_KEYS)}, got {sorted(manifest) if isinstance(manifest, dict) else manifest!r}")
    for key in ("dimension", "label_horizon_ms"):
        if not isinstance(manifest[key], int) or manifest[key] < 1:
            raise TrainingError(f"{path}: {key} must be a positive integer, got {manifest[key]!r}")
    if not isinstance(manifest["sha256"], dict) or not manifest["sha256"]:
        raise TrainingError(f"{path}: sha256 must name at least one row file")
    return manifest


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_rows(channel, manifest):
    """Rows of every file the manifest names, after checking each file's digest and each row's shape."""
    dimension = manifest["dimension"]
    ts, embeddings, labels = [], [], []
    for name, expected_sha in sorted(manifest["sha256"].items()):
        path = channel / name
        if path.parent != channel or not path.is_file():
            raise TrainingError(f"{MANIFEST_FILE} names {name!r}, which is not a file in {channel}")
        actual_sha = sha256_of(path)
        if actual_sha != expected_sha:
            raise TrainingError(f"{name}: sha256 is {actual_sha}, {MANIFEST_FILE} says {expected_sha}")
        with open(path) as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                where = f"{name}:{number}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise TrainingError(f"{where}: not JSON ({error})")
                if not isinstance(row, dict) or set(row) != ROW_KEYS:
                    raise TrainingError(f"{where}: expected the keys {sorted(ROW_KEYS)}")
                embedding = row["embedding"]
                if not isinstance(embedding, list) or len(embedding) != dimension or not all(map(is_number, embedding)):
                    raise TrainingError(f"{where}: embedding must be {dimension} finite numbers")
                if row["label"] not in (0, 1) or isinstance(row["label"], bool):
                    raise TrainingError(f"{where}: label must be 0 or 1, got {row['label']!r}")
                if not isinstance(row["ts"], int) or row["ts"] < 0:
                    raise TrainingError(f"{where}: ts must be an integer epoch-ms time, got {row['ts']!r}")
                ts.append(row["ts"])
                embeddings.append(embedding)
                labels.append(row["label"])
    if len(ts) != manifest["rows"] or sum(labels) != manifest["positives"]:
        raise TrainingError(
            f"the row files hold {len(ts)} rows with {sum(labels)} positives, {MANIFEST_FILE} says {manifest['rows']} and {manifest['positives']}"
        )
    if not ts:
        raise TrainingError("the training set has no rows")
    # Oldest first; a stable sort keeps rows of one ts in export order, as the in-process trainer does.
    order = sorted(range(len(ts)), key=ts.__getitem__)
    return (
        [ts[i] for i in order],
        torch.tensor([embeddings[i] for i in order], dtype=torch.float32),
        torch.tensor([labels[i] for i in order], dtype=torch.float32),
    )


def time_ordered_split(ts, holdout_fraction, horizon_ms):
    """Holdout = newest floor(n * fraction) rows; training rows need ts + horizon_ms < the first holdout ts."""
    holdout_rows = math.floor(len(ts) * holdout_fraction)
    if holdout_rows < 1:
        raise TrainingError(f"{len(ts)} rows leave no holdout at holdout fraction {holdout_fraction}")
    holdout_start = len(ts) - holdout_rows
    first_holdout_ts = ts[holdout_start]
    train_rows = 0
    while train_rows < holdout_start and ts[train_rows] + horizon_ms < first_holdout_ts:
        train_rows += 1
    if train_rows < 1:
        raise TrainingError(
            f"no training rows: every row before the holdout (from ts {first_holdout_ts}) is within the {horizon_ms} ms label horizon of it"
        )
    return train_rows, holdout_start


def train(x, y, hp):
    """Fits on standardized x with Adam (L2 on weights only); returns the network with the standardization folded in."""
    mean = x.double().mean(0)
    centred = x.double() - mean
    # Population std, spelled out (the std() keyword for it differs between torch 1.13 and 2.x); constant -> 1.
    std = (centred * centred).mean(0).sqrt()
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    standardized = (centred / std).float()

    torch.manual_seed(hp.seed)
    network = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hp.hidden), torch.nn.ReLU(), torch.nn.Linear(hp.hidden, 1))
    weights = [network[0].weight, network[2].weight]
    biases = [network[0].bias, network[2].bias]
    optimizer = torch.optim.Adam(
        [{"params": weights, "weight_decay": hp.l2}, {"params": biases, "weight_decay": 0.0}], lr=hp.lr
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    shuffle = torch.Generator().manual_seed(hp.seed)
    epoch_log_loss = []
    for _ in range(hp.epochs):
        order = torch.randperm(len(y), generator=shuffle)
        total = 0.0
        for start in range(0, len(y), hp.batch_size):
            batch = order[start : start + hp.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(network(standardized[batch]).squeeze(1), y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        epoch_log_loss.append(total / len(y))

    with torch.no_grad():
        w1 = network[0].weight.double() / std
        b1 = network[0].bias.double() - w1 @ mean
        folded = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hp.hidden), torch.nn.ReLU(), torch.nn.Linear(hp.hidden, 1), torch.nn.Sigmoid())
        folded[0].weight.copy_(w1.float())
        folded[0].bias.copy_(b1.float())
        folded[2].weight.copy_(network[2].weight)
        folded[2].bias.copy_(network[2].bias)
    return folded.eval(), epoch_log_loss


def roc_auc(probabilities, labels):
    """Mann-Whitney AUC with tied scores sharing their average rank; None when a class is absent."""
    order = sorted(range(len(labels)), key=probabilities.__getitem__)
    positives, positive_rank_sum, start = 0, 0.0, 0
    while start < len(order):
        end = start + 1
        while end < len(order) and probabilities[order[end]] == probabilities[order[start]]:
            end += 1
        average_rank = (start + 1 + end) / 2
        for i in order[start:end]:
            if labels[i] == 1:
                positives += 1
                positive_rank_sum += average_rank
        start = end
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def holdout_metrics(probabilities, labels):
    """The same names and definitions as ml-runner's holdoutMetrics."""
    rows = len(labels)

    def clip(p):
        return min(max(p, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON)

    log_loss = -sum(math.log(clip(p)) if y == 1 else math.log(1 - clip(p)) for p, y in zip(probabilities, labels)) / rows
    base_rate = sum(labels) / rows
    no_skill = clip(base_rate)
    return {
        "holdout_rows": rows,
        "base_rate": base_rate,
        "log_loss": log_loss,
        "no_skill_log_loss": -(base_rate * math.log(no_skill) + (1 - base_rate) * math.log(1 - no_skill)),
        "auc": roc_auc(probabilities, labels),
        "accuracy": sum((p > 0.5) == (y == 1) for p, y in zip(probabilities, labels)) / rows,
    }


def export_onnx(model, dimension, path):
    # The TorchScript exporter: the default through torch 2.8, asked for by name where `dynamo` exists (2.5+).
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(
        model,
        torch.zeros(2, dimension),
        str(path),
        opset_version=OPSET,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        **legacy,
    )


def main(argv):
    hp = parse_hyperparameters(argv)
    channel = Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    output_data_dir = Path(os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    manifest = read_manifest(channel)
    horizon_ms = manifest["label_horizon_ms"] if hp.horizon_ms is None else hp.horizon_ms
    ts, x, y = read_rows(channel, manifest)
    train_rows, holdout_start = time_ordered_split(ts, hp.holdout_fraction, horizon_ms)

    model, epoch_log_loss = train(x[:train_rows], y[:train_rows], hp)
    with torch.no_grad():
        probabilities = model(x[holdout_start:]).squeeze(1).tolist()
    labels = [int(label) for label in y[holdout_start:].tolist()]
    metrics = {
        **holdout_metrics(probabilities, labels),
        "train_rows": train_rows,
        "embargoed_rows": holdout_start - train_rows,
    }

    model_dir.mkdir(parents=True, exist_ok=True)
    export_onnx(model, manifest["dimension"], model_dir / "model.onnx")
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    output_data_dir.mkdir(parents=True, exist_ok=True)
    (output_data_dir / "training.json").write_text(
        json.dumps(
            {
                "hyperparameters": {**vars(hp), "horizon_ms": horizon_ms},
                "feature_version": manifest["feature_version"],
                "epoch_log_loss": epoch_log_loss,
                "torch_version": torch.__version__,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"train.py: {json.dumps(metrics)}")


def report_failure(message):
    print(f"train.py: {message}", file=sys.stderr)
    output_dir = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
    if output_dir.is_dir():
        (output_dir / "failure").write_text(message + "\n")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except TrainingError as error:
        report_failure(str(error))
        sys.exit(1)
    except Exception as error:
        report_failure(f"{type(error).__name__}: {error}")
        raise
