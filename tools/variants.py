"""Game variants from HackAtari as interventions: the agent's score and each saliency method's mass, with and without.

    python tools/variants.py --checkpoint results/pong/checkpoint --variant lazy_enemy --variant up_drift \
        [--episodes 10] [--frames 64] [--methods gradcam,perturbation] [--policy greedy|sample] \
        [--out results/explain/variants]

Repeat --checkpoint for several agents; --variant applies to the checkpoint before it. For each checkpoint
(its own env settings): the HackAtari adapter's observations against `AtariBatchEnv`'s, each variant's
effect check (`eac3_tf.explain.variants.check_variant`; a variant without effect stops the tool), then
--episodes full games in the unmodified game and in each variant, with the first --frames agent steps'
maps measured per object class. --policy defaults to the action rule of exported/<game>/card.json's
evaluation. Needs hackatari (docs/variants.md). Writes OUT.json and OUT.md and prints the Markdown.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eac3_tf.agent import agent_spec  # noqa: E402
from eac3_tf.cli import ArgumentParser, UsageError, check_output_folder, import_tensorflow_quietly, run  # noqa: E402
from eac3_tf.io import write_report  # noqa: E402


def card_policy(game: str) -> str:
    path = ROOT / "exported" / game / "card.json"
    if not path.is_file():
        return "greedy"
    actions = str(json.loads(path.read_text()).get("evaluation", {}).get("protocol", {}).get("actions", "greedy"))
    return "sample" if actions.startswith("sampl") else "greedy"


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="variants.py", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", action="append", required=True, help="a run folder or ckpt-* folder; repeat")
    p.add_argument("--variant", action="append", default=[], help="a HackAtari variant of the last --checkpoint")
    p.add_argument("--episodes", type=int, default=10, help="full games per game and variant (default 10)")
    p.add_argument("--frames", type=int, default=64, help="agent steps whose maps are measured (default 64)")
    p.add_argument("--methods", default="", help="comma-separated methods (default: all)")
    p.add_argument("--policy", choices=("greedy", "sample"), help="action rule (default: the card's)")
    p.add_argument("--check_steps", type=int, default=400, help="random-play steps of each effect check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/explain/variants", help="writes OUT.json and OUT.md")
    args, plan = p.parse_args(argv), []
    for token in sys.argv[1:] if argv is None else argv:  # pair each --variant with the --checkpoint before it
        if token.startswith("--checkpoint"):
            plan.append([])
        elif token.startswith("--variant") and plan:
            plan[-1].append(None)
    it = iter(args.variant)
    plan = [[next(it) for _ in group] for group in plan]
    if not 1 <= args.episodes <= 1000 or not 8 <= args.frames <= 2000:
        raise UsageError(f"--episodes must be 1..1000 and --frames 8..2000, got {args.episodes}, {args.frames}")
    agents = [agent_spec(c) for c in args.checkpoint]
    out = Path(args.out)
    check_output_folder(str(out.parent), "--out")
    import_tensorflow_quietly()
    import numpy as np

    from eac3_tf import checkpoint
    from eac3_tf.explain import METHODS, perturbation
    from eac3_tf.explain import variants as va
    from eac3_tf.policy import greedy_actions, sample_actions

    for agent, variants in zip(agents, plan, strict=True):  # names checked before any game is played
        try:
            unknown = sorted(set(variants) - set(va.known_variants(agent.game)))
        except va.VariantError as exc:
            raise UsageError(str(exc)) from None
        if unknown:
            raise UsageError(f"unknown {agent.game} variant(s) {', '.join(unknown)}; HackAtari's: "
                             f"{', '.join(va.known_variants(agent.game))}")
    methods = tuple(m for m in args.methods.split(",") if m) or METHODS
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise UsageError(f"unknown --methods {', '.join(unknown)}; accepted: {', '.join(METHODS)}")
    reports, t0 = [], time.time()
    for agent, variants in zip(agents, plan, strict=True):
        policy_rule = args.policy or card_policy(agent.game)
        report = {"game": agent.game, "checkpoint": str(agent.path), "policy": policy_rule,
                  "parity": va.adapter_parity(agent.env, agent.obs, seed=args.seed), "checks": {}, "games": {}}
        print(f"{agent.game}: adapter parity {report['parity']}", flush=True)
        for v in variants:
            try:
                report["checks"][v] = va.check_variant(agent.env, v, steps=args.check_steps, seed=args.seed)
            except va.VariantError as exc:  # an unknown or idle variant: one line and exit 2, nothing written
                raise UsageError(str(exc)) from None
            print(f"{agent.game}: {v} took effect: {report['checks'][v]}", flush=True)
        model = checkpoint.load(agent.path, with_optimizer=False).model
        for v in ("none", *variants):
            t = time.time()
            rng = np.random.default_rng(args.seed)

            def policy(x, rng=rng, model=model, rule=policy_rule):
                logits = perturbation.policy_logits(model, x)
                return greedy_actions(logits) if rule == "greedy" else sample_actions(logits, rng)

            env = va.HackAtariEnv(agent.env, agent.obs, () if v == "none" else (v,))
            try:
                scores, rec = va.play(policy, env, args.episodes, args.seed, args.frames)
            finally:
                env.close()
            idx = va.spread(args.frames, len(rec["inputs"]))
            masses = va.method_masses(model, agent.game, agent.obs, rec["inputs"][idx], rec["screens"][idx], methods)
            report["games"][v] = {"scores": scores, "mean": float(np.mean(scores)), "std": float(np.std(scores)),
                                  "mass": masses, "seconds": round(time.time() - t, 1)}
            print(f"{agent.game} [{v}]: {np.mean(scores):.2f} ± {np.std(scores):.2f} over {len(scores)} games "
                  f"in {time.time() - t:.0f} s", flush=True)
        base = report["games"]["none"]["mass"]
        for v in variants:
            g = report["games"][v]
            g["mass_moves"] = {m: va.mass_moves(base[m], g["mass"][m]) for m in methods}
        reports.append(report)
    command = "python tools/variants.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = va.markdown(reports, command, args.episodes, args.frames)
    wrote = write_report(out, {"command": command, "episodes": args.episodes, "frames": args.frames,
                               "reports": reports}, text, t0)
    print(text)
    print(wrote)


if __name__ == "__main__":
    run(main, "variants.py")
