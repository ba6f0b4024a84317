"""``make mutation``'s report: kill rate per module and every survivor with its reason.

Reads mutmut's per-file results (``mutants/**/*.meta``) and the diffs (``mutmut show``), joins each
surviving mutant with the first reason in ``tools/mutation_reasons.yaml`` whose pattern matches its name
or diff, and writes ``reports/mutation.md``. A survivor no reason explains is listed as UNEXPLAINED and
fails the run, as does a module whose kill rate is under the target: a new survivor is either killed by a new
test or explained in review.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import tomllib
import yaml
from mutmut.stats import status_by_exit_code

TARGET = 0.85
OUT = Path("reports/mutation.md")


def results() -> dict[str, dict[str, str]]:
    by_file: dict[str, dict[str, str]] = {}
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        if codes:
            source = str(meta.relative_to("mutants"))[: -len(".meta")]
            by_file[source] = {name: status_by_exit_code[code] for name, code in codes.items()}
    return by_file


def diff_of(name: str) -> str:
    out = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True, text=True).stdout
    changed = [line for line in out.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return " / ".join(line.strip() for line in changed)


def commit() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    # the report itself is left out: a rerun of the tool overwrites its own earlier copy before it reads this
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){OUT}"],
                           capture_output=True, text=True).stdout.strip()
    return sha + (" (with uncommitted changes)" if dirty else "")


def main() -> int:
    reasons = yaml.safe_load(Path("tools/mutation_reasons.yaml").read_text()) or []
    by_file = results()
    if not by_file:
        print("no mutmut results under mutants/: run mutmut run first", file=sys.stderr)
        return 2
    settings = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]
    args = settings["pytest_add_cli_args"]
    deselected = [args[i + 1] for i, a in enumerate(args) if a == "--deselect"]
    kept = [a for i, a in enumerate(args) if a != "--deselect" and (i == 0 or args[i - 1] != "--deselect")]
    lines = ["# Mutation testing", "",
             f"`make mutation`: mutmut over {', '.join(f'`{p}`' for p in settings['only_mutate'])}, against "
             f"{', '.join(settings['pytest_add_cli_args_test_selection'])} (`{' '.join(kept)}`; {len(deselected)} tests left out, "
             "listed with the reason in pyproject.toml's `[tool.mutmut]`), "
             f"at commit `{commit()}`. Kill rate = killed / mutants run (a mutant no test reaches counts as surviving); "
             f"target {TARGET:.0%} per module. A module whose run was cut short says how many of its mutants did not run: "
             "its rate is over those that did, and it does not meet the target until all have.", "",
             "| module | mutants | killed | survived | no tests | timeout | not run | kill rate |", "|---|---|---|---|---|---|---|---|"]
    total = Counter()
    survivors, under = [], []
    for source, statuses in by_file.items():
        c = Counter(statuses.values())
        total += c
        ran = sum(c.values()) - c["not checked"]
        killed = (c["killed"] + c["timeout"]) / ran if ran else 0.0
        under += [source] if killed < TARGET or c["not checked"] else []
        lines.append(f"| {source} | {ran + c['not checked']} | {c['killed']} | {c['survived']} | {c['no tests']} | {c['timeout']} "
                     f"| {c['not checked'] or ''} | {f'{killed:.1%}' if ran else '-'} |")
        survivors += [(source, name) for name, s in statuses.items() if s not in ("killed", "timeout", "not checked")]
    ran = sum(total.values()) - total["not checked"]
    rate = (total["killed"] + total["timeout"]) / ran
    lines.append(f"| **all** | {ran + total['not checked']} | {total['killed']} | {total['survived']} | {total['no tests']} | {total['timeout']} "
                 f"| {total['not checked'] or ''} | **{rate:.1%}** |")
    lines += ["", "A timeout counts as killed (the mutant hangs the tests). mutmut does not mutate decorated functions (the "
              "registered metrics): they are held against scikit-learn/SciPy by property tests instead.", "",
              "## Survivors", "", "| mutant | change | reason |", "|---|---|---|"]
    unexplained = 0
    for source, name in survivors:
        change = diff_of(name)
        reason = next((r["reason"] for r in reasons if re.search(r["match"], f"{name} {change}")), None)
        unexplained += reason is None
        shown = change if len(change) <= 240 else change[:237] + "..."
        lines.append(f"| `{name}` | `{shown.replace('|', '¦')}` | {reason or '**UNEXPLAINED**'} |")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"mutation: {total['killed'] + total['timeout']} of {ran} mutants run killed ({rate:.1%}, target {TARGET:.0%} per module"
          f"{', under it or not finished: ' + ', '.join(under) if under else ''}); {len(survivors)} survivors, {unexplained} unexplained -> {OUT}")
    return 0 if not under and not unexplained else 1


if __name__ == "__main__":
    sys.exit(main())
