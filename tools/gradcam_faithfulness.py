"""Is Grad-CAM faithful? Deletion/insertion, randomisation and object checks on an ALE game and the Catch toy.

Usage:
    python tools/gradcam_faithfulness.py --checkpoint runs/pong_fast [--frames 500] [--seed 0]
        [--out results/gradcam/faithfulness] [--toy_checkpoint runs/catch]
    python tools/gradcam_faithfulness.py --checkpoint runs/suite/qbert --skip_toy \
        --out results/gradcam/faithfulness_qbert

The game: `--frames` agent steps are played by the checkpoint's policy (sampled actions) in one
`AtariBatchEnv` (the checkpoint's env settings, seed `--seed`; policy RNG seed `--seed`); every model
input seen is one frame. Any ALE game is accepted; the object checks need object positions, which this
tool reads from the screen colours on the six games with a colour table (`eac3_tf.explain.colours.OBJECT_COLOURS`:
Pong, Space Invaders, Demon Attack, Beam Rider, Phoenix, Qbert). `--skip_toy` leaves the Catch part out.
Catch: an agent is trained as tests/test_learning.py trains one (100k frames,
2 workers, 16 envs each, lr 2e-3, seed `--seed`), or loaded from `--toy_checkpoint`, and plays
`--toy_frames` steps in 16 games (seed `--seed`).

On both, four maps per frame (five on an ALE game): Grad-CAM of the greedy action (last conv layer, before its
pool; on the ALE game also at the first conv layer, "gradcam_conv1"), perturbation saliency (Greydanus et al. 2018,
all logits: 0.5 ||logits(I) - logits(phi)||^2), the model-free "blur_change" map (the same perturbations
scored by how much they change the input; what the image alone shows) and a uniform random map (seed
`--seed` + 1). They are scored by:
* deletion / insertion AUC of the greedy action's probability (20 steps; baseline: the frame blurred
  with a Gaussian of sigma 5 px, spatial axes only): deletion lower is better, insertion higher;
* cascading randomisation (Adebayo et al. 2018): Spearman correlation of the maps of copies whose layers
  are re-initialised from their own initializers from the top (logits+value, hidden, conv2, conv1), the
  target fixed to the trained model's greedy action; and each map's Spearman correlation with blur_change;
* games with a colour table: the share of each map's mass on the game's objects (colour masks of the
  screens, any pixel of a 2x2 block; Pong: the ball and both paddles) against their share of the area;
  "stack" masks are the union over the 4 screens the model input stacks, "current" the newest screen only;
  pointing game on the same masks, exact and within one Grad-CAM cell (8 px for the fast preset); and the
  same per object class on the newest screen ("objects_by_class");
* Catch: pointing game (hit = the map's argmax is on the ball OR the paddle cell, exact and within one
  cell; ball-only and paddle-only rates too) and object mass; the Grad-CAM pointing game also over
  `--toy_agents` agents trained with seeds seed, seed+1, ... (one run's agent is one sample of many).

Writes OUT.json and OUT.md (each through a temp file and os.replace) and prints the Markdown.
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eac3_tf import checkpoint, cli  # noqa: E402
from eac3_tf.agent import agent_spec  # noqa: E402
from eac3_tf.explain import faithfulness_markdown, faithfulness_report  # noqa: E402
from eac3_tf.io import finite, write_text  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = cli.ArgumentParser(prog="gradcam_faithfulness.py", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="ALE game run logdir, ckpt-* folder or its model.keras")
    p.add_argument("--frames", type=int, default=500, help="agent steps of the game to record (one frame each)")
    p.add_argument("--seed", type=int, default=0, help="env, policy, toy training and random-map seed")
    p.add_argument("--out", default="results/gradcam/faithfulness", help="output path without extension")
    p.add_argument("--skip_toy", action="store_true", help="leave out the Catch toy (per-game runs)")
    p.add_argument("--toy_checkpoint", default=None, help="a trained Catch checkpoint (else one is trained)")
    p.add_argument("--toy_frames", type=int, default=500, help="Catch frames to record")
    p.add_argument("--toy_agents", type=int, default=5,
                   help="Catch agents (seeds seed, seed+1, ...) whose Grad-CAM pointing game is scored; the "
                        "first is the one every other Catch figure uses")
    p.add_argument("--cascade_frames", type=int, default=100,
                   help="frames for the perturbation maps' randomisation check (Grad-CAM uses all)")
    args = p.parse_args(argv)
    for name in ("frames", "toy_frames", "cascade_frames", "toy_agents"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.toy_agents > 20:
        raise cli.UsageError(f"--toy_agents must be 1..20, got {args.toy_agents}")
    for name in ("frames", "toy_frames", "cascade_frames"):
        if getattr(args, name) > 100_000:
            raise cli.UsageError(f"--{name} must be 1..100000, got {getattr(args, name)}")
    # every check before TensorFlow loads; a damaged checkpoint is one line, not a traceback from Keras
    agent = agent_spec(args.checkpoint)
    if args.toy_checkpoint and args.skip_toy:
        raise cli.UsageError("--toy_checkpoint and --skip_toy contradict each other: give one")
    if args.toy_checkpoint:
        checkpoint.verify(checkpoint.resolve(args.toy_checkpoint))
    out = Path(args.out)
    cli.check_output_folder(out.parent, "--out")
    out.parent.mkdir(parents=True, exist_ok=True)
    cli.import_tensorflow_quietly()
    command = "python tools/gradcam_faithfulness.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report = faithfulness_report.report(agent, args.frames, args.seed, args.cascade_frames, command,
                                        toy=not args.skip_toy, toy_checkpoint=args.toy_checkpoint,
                                        toy_frames=args.toy_frames, toy_agents=args.toy_agents)
    text = faithfulness_markdown.markdown(report)
    json_path, md_path = Path(f"{out}.json"), Path(f"{out}.md")
    write_text(json_path, json.dumps(finite(report), indent=2) + "\n")
    write_text(md_path, text)
    print(text)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    cli.run(main, "gradcam_faithfulness.py")
