"""Retrieval baseline (the atlas's "retrieval / in-context" row): no training, a k-nearest-neighbour vote.

The frozen encoder embeds every training example (mean pooling over tokens, L2-normalised: how
all-MiniLM-L6-v2 is used as a sentence encoder); a query's label is the majority among its ``k`` most
cosine-similar training examples, ties broken by summed similarity. The "artifact" is the index
(embeddings + labels); updating knowledge is re-indexing, not training.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from pydantic.dataclasses import dataclass
from torch import nn
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding
from transformers.modeling_outputs import SequenceClassifierOutput

from harness.core.errors import HarnessError
from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.methods.base import Method, MethodSettings

INDEX_FILE = "index.safetensors"


@dataclass(config=STRICT)
class KnnSettings(MethodSettings):
    k: Annotated[int, Field(gt=0)] = setting(16, help="neighbours that vote (cosine similarity of sentence embeddings)")
    index_batch_size: Annotated[int, Field(gt=0)] = setting(256, help="examples embedded per forward pass when indexing")


def mean_pooled(encoder: nn.Module, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
    hidden = encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)


class KnnClassifier(nn.Module):
    """A sequence classifier whose logits are neighbour votes: drop-in for evaluation and latency."""

    def __init__(self, encoder: nn.Module, keys: torch.Tensor, labels: torch.Tensor, num_labels: int, k: int):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("keys", keys)
        self.register_buffer("key_labels", labels)
        self.num_labels, self.k = num_labels, k

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None, **_):
        query = mean_pooled(self.encoder, input_ids, attention_mask, token_type_ids)
        sims, idx = (query @ self.keys.T).topk(min(self.k, len(self.keys)), dim=-1)
        votes = torch.zeros(len(query), self.num_labels, device=query.device)
        votes.scatter_add_(1, self.key_labels[idx], torch.ones_like(sims))
        tiebreak = torch.zeros_like(votes).scatter_add_(1, self.key_labels[idx], sims)
        return SequenceClassifierOutput(logits=votes + 1e-3 * tiebreak / self.k)


@METHODS.register("knn")
class Knn(Method):
    Config = KnnSettings
    trains = False

    def prepare(self, model, cfg, *, total_steps):
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    @torch.no_grad()
    def fit(self, model, cfg, dataset, tokenizer, device):
        if model.config.num_labels == 1:
            raise HarnessError("knn votes among the training examples' classes; data.task regression has none (use a trained method)")
        encoder = model.base_model.to(device).eval()
        loader = DataLoader(dataset.remove_columns("labels"), batch_size=cfg.index_batch_size, collate_fn=DataCollatorWithPadding(tokenizer))
        keys = torch.cat([mean_pooled(encoder, **{k: v.to(device) for k, v in b.items()}) for b in loader])
        labels = torch.tensor(dataset["labels"], device=device)
        return KnnClassifier(encoder, keys, labels, model.config.num_labels, cfg.k)

    def effective_params(self, model):
        return 0

    def save(self, model, out_dir):
        from safetensors.torch import save_file

        out_dir.mkdir(parents=True, exist_ok=True)
        save_file({"keys": model.keys.contiguous().cpu(), "labels": model.key_labels.cpu()}, out_dir / INDEX_FILE)

    def load(self, base, out_dir, cfg):
        from safetensors.torch import load_file

        path = out_dir / INDEX_FILE
        if not path.is_file():
            raise HarnessError(f"{path}: retrieval index missing; rerun the train stage")
        index = load_file(path)
        return KnnClassifier(base.base_model.eval(), index["keys"], index["labels"], base.config.num_labels, cfg.k)
