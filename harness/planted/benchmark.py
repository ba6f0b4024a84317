"""Planted-rank benchmark: ground truth for "dynamic rank selection puts rank where the task needs it".

On a natural task nobody knows where rank is needed. Here we do: a teacher is the base encoder plus known
updates ``dW = s U V^T`` (rank r, equal singular values ``s = strength * ||W||_2``) on chosen modules and
nothing elsewhere. The student starts from the base encoder and learns, layer by layer, the teacher's output of each
layer from the teacher's input to it (teacher forcing), at every token: a dense target whose dimension far
exceeds the planted rank. A layer fed the teacher's input can only reproduce its own change, so reproducing
each planted update in place is what minimises the loss. (The first design labelled 4 classes by 2 directions of
the pooled output: any module downstream of the planted ones could produce that shift, so "rank should go to
the planted modules" was a false premise, and the learned updates' energy sat 4-16x below chance there.)

That the planted modules are identifiable is measured in every run, not assumed:

- **oracle** (positive control): LoRA on exactly the planted modules at the planted ranks must close at least
  ``positive_min`` % of the gap between the base encoder and the teacher;
- **negative** control: LoRA on the unplanted modules only, at the allocation arms' budget (rounded up to a
  whole rank per module), must stay below ``negative_max`` %;
- **no-plant** control (a task planting nothing): the teacher is the base encoder; there is nothing to learn, any
  allocation is as good as any other, and AdaLoRA's pattern there is its allocation without a signal.

A task is *valid* when both controls pass; only then is the allocator judged on it, beside **uniform** LoRA at
the same final budget (AdaLoRA's ``target_r`` on every module). The oracle uses the planted ranks (total P, at
most the arms' budget B): rank beyond P on the planted modules has nothing left to learn.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding
from transformers.utils import ModelOutput

from harness.claims.stats import summarize
from harness.core.errors import HarnessError

ARMS = ("oracle", "negative", "uniform", "adalora")
CONTROL_ARMS = ("adalora",)  # what the no-plant control runs: the allocator, to see its pattern without a signal
STUDENT = "student."  # the student encoder's attribute in HiddenStateMatch: module paths in the adapted model start with it


def adapted_modules(model: nn.Module, target_modules: list[str]) -> list[str]:
    """Linear modules whose last name part is a target (how peft matches a list of names), in model order."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.split(".")[-1] in target_modules]


def resolve_modules(model: nn.Module, spec: dict[str, int], candidates: list[str], where: str) -> dict[str, int]:
    """Planted rank for every candidate module (0 where nothing is planted); ``spec`` keys are name suffixes."""
    planted = dict.fromkeys(candidates, 0)
    for suffix, rank in spec.items():
        hits = [name for name in candidates if name == suffix or name.endswith("." + suffix)]
        if len(hits) != 1:
            raise HarnessError(
                f"{where}.{suffix}: matches {len(hits)} adapted modules, need exactly one; "
                f"e.g. {', '.join(c.split('.', 2)[-1] for c in candidates[:3])}"
            )
        weight = dict(model.named_modules())[hits[0]].weight
        if rank > min(weight.shape):
            raise HarnessError(f"{where}.{suffix}: rank {rank} exceeds the module's {tuple(weight.shape)} weight")
        planted[hits[0]] = rank
    return planted


def plant(model: nn.Module, planted: dict[str, int], strength: float, seed: int) -> dict[str, torch.Tensor]:
    """Add a rank-r update with equal singular values to each planted module (in place); return the updates."""
    gen = torch.Generator().manual_seed(seed)
    modules = dict(model.named_modules())
    deltas = {}
    with torch.no_grad():
        for name, rank in planted.items():
            if rank == 0:
                continue
            W = modules[name].weight
            U, _ = torch.linalg.qr(torch.randn(W.shape[0], rank, generator=gen, dtype=torch.float64))
            V, _ = torch.linalg.qr(torch.randn(W.shape[1], rank, generator=gen, dtype=torch.float64))
            sigma = strength * float(torch.linalg.matrix_norm(W.double(), ord=2))
            delta = (sigma * U @ V.T).to(W.dtype)
            W.add_(delta)
            deltas[name] = delta
    return deltas


def without_dropout(model: nn.Module) -> nn.Module:
    """The teacher's targets are deterministic; dropout in the student would add a loss floor unrelated to the
    planted change (the adapters' own dropout stays as configured)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model


@dataclasses.dataclass
class MatchOutput(ModelOutput):
    loss: torch.Tensor | None = None


def layer_errors(states: list[torch.Tensor], target: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
    """Per layer, the mean squared difference per hidden unit over real tokens between the student's output and
    the teacher's (``target[0]`` is the embeddings' output, never adapted; ``target[i + 1]`` layer i's)."""
    m = mask.unsqueeze(-1).to(states[0].dtype)
    return torch.stack([((s - t).square() * m).sum() / (m.sum() * s.shape[-1]) for s, t in zip(states, target[1:], strict=True)])


def layer_stack(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's list of transformer blocks (BERT/RoBERTa/DeBERTa: ``encoder.layer``): the one ModuleList
    with ``config.num_hidden_layers`` entries."""
    stacks = [m for m in encoder.modules() if isinstance(m, nn.ModuleList) and len(m) == encoder.config.num_hidden_layers]
    if len(stacks) != 1:
        raise HarnessError(f"planted: cannot tell the {type(encoder).__name__}'s list of layers (found {len(stacks)} candidates)")
    return stacks[0]


def _first(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


class HiddenStateMatch(nn.Module):
    """The student encoder whose forward returns the loss the training loop minimises: how far each of its
    layers, fed the teacher's input to that layer, lands from the teacher's output of it (teacher forcing),
    divided by ``scale`` (the base encoder's distance on the training inputs, so the loss starts near 1 whatever
    the planted strength, and gradient clipping means the same on every task).

    Teacher forcing is what makes the planted modules identifiable: fed its own states, a layer above a planted
    one could make up for the plant's downstream effect (measured: LoRA on every module *but* the planted one
    closed 63% of the gap of a rank-2 plant when the student ran on its own states); fed the teacher's, a layer
    can only reproduce its own change, so only the planted layer's modules can close its part of the gap.

    peft adapts this module; the teacher is held outside its submodules, so peft puts no adapter on it and
    the optimizer never sees its weights.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, scale: float = 1.0):
        super().__init__()
        self.student = student
        self.config = student.config
        self._teacher = (teacher.eval(),)
        self._layers = tuple(layer_stack(student))  # found once: peft adapts the layers in place, the list stays
        self.scale = scale

    def error(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        return self.layer_errors(input_ids, attention_mask, token_type_ids).mean()

    def layer_errors(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        with torch.no_grad():
            target = self._teacher[0](**inputs, output_hidden_states=True).hidden_states  # embeddings, then each layer's output
        outputs: list[torch.Tensor] = []

        def feed(i: int):
            def hook(_module, args, kwargs):
                if args:
                    return (target[i], *args[1:]), kwargs
                return args, {**kwargs, "hidden_states": target[i]}
            return hook

        handles = [layer.register_forward_pre_hook(feed(i), with_kwargs=True) for i, layer in enumerate(self._layers)]
        handles += [layer.register_forward_hook(lambda _m, _a, out: outputs.append(_first(out))) for layer in self._layers]
        try:
            self.student(**inputs)
        finally:
            for handle in handles:
                handle.remove()
        return layer_errors(outputs, target, attention_mask)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_ignored) -> MatchOutput:
        return MatchOutput(loss=self.error(input_ids, attention_mask, token_type_ids) / self.scale)


def inner(model: nn.Module) -> HiddenStateMatch:
    """The HiddenStateMatch inside a peft model (its adapters are injected in place), or the model itself."""
    while not isinstance(model, HiddenStateMatch):
        if not hasattr(model, "get_base_model"):
            raise HarnessError(f"planted: expected a HiddenStateMatch model, got {type(model).__name__}")
        model = model.get_base_model()
    return model


def eval_loader(dataset, tokenizer, batch_size: int) -> DataLoader:
    """Length-sorted batches (less padding; the error is token-weighted, so the order changes nothing)."""
    lengths = [len(ids) for ids in dataset["input_ids"]]
    order = sorted(range(len(dataset)), key=lengths.__getitem__)
    return DataLoader(dataset.select(order), batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer))


@torch.no_grad()
def match_error(model: nn.Module, loader: DataLoader, device: torch.device) -> float:
    """Token-weighted distance to the teacher over ``loader`` (peft's orthogonality penalty, which AdaLoRA
    adds to the loss in ``forward``, is not part of it)."""
    match = inner(model).to(device).eval()
    total, tokens = 0.0, 0
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        n = int(batch["attention_mask"].sum())
        total += float(match.error(**batch)) * n
        tokens += n
    return total / tokens


def gap_closed(error: float, base_error: float) -> float | None:
    """Share (%) of the base encoder's distance to the teacher the student removed; None without a gap."""
    return None if base_error == 0 else 100.0 * (1.0 - error / base_error)


def arm_ranks(arm: str, planted: dict[str, int], target_r: int) -> dict[str, int]:
    """LoRA rank per module for a LoRA arm: the budget B is AdaLoRA's final one, ``target_r`` per module."""
    budget = target_r * len(planted)
    if arm == "oracle":
        return {name: r for name, r in planted.items() if r}
    if arm == "uniform":
        return dict.fromkeys(planted, target_r)
    if arm == "negative":
        others = [name for name, r in planted.items() if not r]
        if not others:
            raise HarnessError("planted: the task plants every adapted module; the negative control needs one left unplanted")
        return dict.fromkeys(others, math.ceil(budget / len(others)))
    raise HarnessError(f"planted: {arm!r} is not a LoRA arm; LoRA arms: oracle, negative, uniform")


def share_on(values: dict[str, float], planted: dict[str, int]) -> float | None:
    """Share of a per-module quantity (rank, update energy) sitting on the planted modules."""
    total = sum(values.values())
    return None if total == 0 else sum(v for name, v in values.items() if planted.get(name)) / total


def subspace_recovery(learned: torch.Tensor, planted: torch.Tensor, rank: int, inputs: torch.Tensor | None = None) -> float:
    """How much of the planted update's output subspace the learned update's top ``rank`` directions span: mean
    squared cosine of the principal angles (1 = recovered, about rank/dim = a random subspace).

    With ``inputs`` (the module's inputs on real data, one row per token) both updates are compared by what they
    write on those inputs (``dW x``): a weight's row space is identifiable only inside the span the inputs occupy
    (a transformer's hidden states are strongly anisotropic), so weights compared directly read "not recovered"
    for updates that act the same on every input the model sees.
    """
    if inputs is not None:
        learned, planted = learned.double() @ inputs.double().T, planted.double() @ inputs.double().T
    Up = torch.linalg.svd(planted.double(), full_matrices=False)[0][:, :rank]
    Ul = torch.linalg.svd(learned.double(), full_matrices=False)[0][:, :rank]
    return float((Up.T @ Ul).square().sum() / rank)


def recovery(learned: dict[str, torch.Tensor], deltas: dict[str, torch.Tensor], planted: dict[str, int],
             inputs: dict[str, torch.Tensor]) -> float:
    """Subspace recovery on the data over the planted modules, weighted by planted rank (a module without an
    adapter: 0)."""
    total = sum(planted[name] for name in deltas)
    return sum(planted[name] * subspace_recovery(learned[name], d, planted[name], inputs[name])
               for name, d in deltas.items() if name in learned) / total


@torch.no_grad()
def module_inputs(model: nn.Module, names: list[str], loader: DataLoader, device: torch.device, most: int = 4096) -> dict[str, torch.Tensor]:
    """The inputs (one row per real token, at most ``most``) each named linear module sees over ``loader``."""
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    mask: list[torch.Tensor] = []
    modules = dict(model.named_modules())
    handles = [modules[name].register_forward_pre_hook(lambda _m, args, name=name: seen[name].append(args[0].detach()))
               for name in names]
    try:
        model.to(device).eval()
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
            mask.append(batch["attention_mask"].bool())
            model(**batch)
    finally:
        for handle in handles:
            handle.remove()
    return {name: torch.cat([x[m] for x, m in zip(xs, mask, strict=True)])[:most].float() for name, xs in seen.items()}


def budget_needed(curve: dict[int, float], full: float, keep: float) -> int | None:
    """Smallest total rank budget whose gap closed keeps ``keep`` of the untruncated update's."""
    return next((b for b in sorted(curve) if curve[b] >= keep * full), None)


def task_validity(seeds: dict[str, dict[str, Any]], positive_min: float, negative_max: float) -> dict[str, Any]:
    """Valid when the oracle closes at least ``positive_min`` % of the gap in every seed and the negative control
    stays below ``negative_max`` % in every seed; says which control failed otherwise."""
    oracle = [s["oracle"]["gap_closed"] for s in seeds.values()]
    negative = [s["negative"]["gap_closed"] for s in seeds.values()]
    failed = []
    if min(oracle) < positive_min:
        failed.append(f"positive control: the oracle closes {min(oracle):.1f}% of the gap in its worst seed (needs >= {positive_min:g}%)")
    if max(negative) >= negative_max:
        failed.append(f"negative control: LoRA off the planted modules closes {max(negative):.1f}% in its best seed (needs < {negative_max:g}%)")
    return {"valid": not failed, "why": "; ".join(failed) or "both controls pass"}


def budgets_grow(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The benchmark's last check: across the planted tasks in order of planted rank, the oracle's budget
    needed (mean over seeds) grows strictly. A task whose difficulty did not grow with its planted rank would
    make "rank adapted to task complexity" untestable."""
    planted = sorted((r for r in results.values() if r["planted_total_rank"]), key=lambda r: r["planted_total_rank"])
    needed = []
    for r in planted:
        values = [s["oracle"]["budget_needed"] for s in r["seeds"].values()]
        needed.append(None if None in values else sum(values) / len(values))
    grows = None not in needed and all(a < b for a, b in zip(needed, needed[1:]))
    shown = ", ".join(f"{r['task']} (P={r['planted_total_rank']}) {'n/a' if n is None else f'{n:.1f}'}" for r, n in zip(planted, needed))
    return {"grows": grows, "why": f"oracle budget needed: {shown}"}


def summarize_benchmark(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the status table shows (status.json keeps it): per task its plant and validity, per task and arm
    means and 95% intervals over seeds, the budget-growth check and the benchmark's verdict. AdaLoRA's pattern
    on the no-plant control, read on each task's planted modules, is the share it gives them without a signal."""
    control = [r for r in results.values() if not r["planted_total_rank"]]
    no_signal = [s["adalora"]["ranks"] for s in control[0]["seeds"].values()] if control else []
    tasks, rows = {}, []
    for task, res in results.items():
        tasks[task] = {
            "planted": {name.split(".layer.")[-1]: k for name, k in res["planted"].items()},
            "planted_total_rank": res["planted_total_rank"],
            "share_by_chance": res["share_by_chance"],
            "validity": res["validity"],
            "no_signal_share": summarize(share_on(ranks, res["planted"]) for ranks in no_signal) if no_signal and res["planted"] else None,
        }
        seeds = list(res["seeds"].values())
        for arm in res["arms"]:
            per = [s[arm] for s in seeds]
            rows.append({"task": task, "arm": arm, "lr": per[0]["lr"], **{
                key: summarize(p[key] for p in per if p.get(key) is not None)
                for key in ("gap_closed", "share_on_planted", "energy_on_planted", "recovery", "budget_needed")}})
    growth = budgets_grow(results)
    planting = [t for t in tasks.values() if t["planted_total_rank"]]
    return {"tasks": tasks, "rows": rows, "budgets_grow": growth,
            "valid": bool(planting) and all(t["validity"]["valid"] for t in planting) and growth["grows"]}


def _ci(s: dict[str, Any] | None, digits: int = 1) -> str:
    if s is None or s["mean"] is None:
        return "–"
    interval = "" if s["ci_low"] is None else f" [{s['ci_low']:.{digits}f}, {s['ci_high']:.{digits}f}]"
    return f"{s['mean']:.{digits}f}{interval}"


def render_summary(summary: dict[str, Any] | None, rank_maps: dict[str, str], inputs: str, preamble: bool = True) -> list[str]:
    """The status table's section for one set of inputs: the benchmark's verdict, each task's controls, then
    every arm's figures (``preamble``: the heading and the explanation, once)."""
    if not summary:
        return []
    tasks, growth = summary["tasks"], summary["budgets_grow"]
    lines = [] if not preamble else [
        "", "## Planted-rank benchmark (does the allocator put rank where the teacher's updates are?)", "",
        "A teacher is the base encoder plus known low-rank updates; every arm learns each layer's output from the teacher's input to that layer "
        "(harness/planted/benchmark.py). Gap closed = share of the base encoder's distance to the teacher removed, on test inputs "
        "(learning rates were tuned on validation inputs, the same grid for every arm). Controls: the oracle (LoRA on "
        "exactly the planted modules at the planted ranks) must close the gap, LoRA off the planted modules must not; only "
        "on a task where both hold is the allocator judged. Uniform = LoRA at AdaLoRA's final budget on every module. "
        "Rank share / energy on planted: share of the final rank / of the learned update's squared norm on the planted "
        "modules (chance: their share of modules; no signal: AdaLoRA's share there on the no-plant control). Recovery: "
        "mean squared cosine of the principal angles between the output subspaces the learned and the planted updates "
        "write on the test inputs. Means with 95% CI "
        "over seeds."]
    lines += [
        "", f"### On {inputs}", "",
        f"**Benchmark: {'valid' if summary['valid'] else 'NOT valid'}.** "
        + " ".join(f"{task}: {'valid' if t['validity']['valid'] else 'not valid'} ({t['validity']['why']})."
                   for task, t in tasks.items() if t["planted_total_rank"])
        + f" Budget needed grows with planted rank: {'yes' if growth['grows'] else 'no'} ({growth['why']}).", "",
        "| task | planted (total) | arm | lr | gap closed % | rank share on planted (chance; no signal) | energy on planted | recovery | budget needed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary["rows"]:
        t = tasks[row["task"]]
        planted = ", ".join(f"{name}={k}" for name, k in t["planted"].items()) or "nothing (control)"
        baseline = f"{t['share_by_chance']:.2f}" + (f"; {_ci(t['no_signal_share'], 2)}" if t["no_signal_share"] else "")
        lines.append(
            f"| {row['task']} | {planted} ({t['planted_total_rank']}) | {row['arm']} | {row['lr']:.2g} | {_ci(row['gap_closed'])} | "
            f"{_ci(row['share_on_planted'], 2)} ({baseline}) | {_ci(row['energy_on_planted'], 2)} | "
            f"{_ci(row['recovery'], 2)} | {_ci(row['budget_needed'])} |"
        )
    lines += [""] + [f"![{task} allocation]({path})" for task, path in rank_maps.items()]
    return lines
