"""The faithfulness report (`faithfulness_report.report`'s dict) as Markdown: one table per measure and task."""

from __future__ import annotations

from eac3_tf.config import camel_game


def pm(s: dict, digits: int = 3) -> str:
    """A `stats` dict as "mean ± std" and the frames it is undefined on; "n/a" where it is undefined on all."""
    if s["mean"] is None:
        return "n/a"
    text = f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"
    return text + (f" ({s['undefined']} undefined)" if s.get("undefined") else "")


def markdown(report: dict) -> str:
    """The whole report: the settings, then per task deletion/insertion and randomisation, objects, timings."""
    st = report["settings"]
    game = st.get("game", "pong")
    game_name = camel_game(game)
    atari, toy = report[game], report.get("toy")
    pp = atari["perturbation"]
    tasks = [(game_name, atari)] + ([("Catch", toy)] if toy else [])
    catch = (f" Catch: {toy['checkpoint']} ({toy['frames_trained']:,} frames trained), {toy['frames']} frames, mean "
             f"return while recording {toy['mean_return_while_recording']:.2f}." if toy else " Catch: not run.")
    catch_pert = f", Catch {toy['perturbation']['patch']:g}/{toy['perturbation']['stride']}/" \
                 f"{toy['perturbation']['sigma']:g}" if toy else ""
    lines = ["# Grad-CAM faithfulness", "",
             f"{game_name}: `{atari['checkpoint']}` ({atari['frames_trained']:,} frames trained), {atari['frames']} "
             f"frames recorded with the sampled policy, seed {st['seed']}.{catch}", "",
             "Maps: `gradcam` of the greedy action (at the default layer: a pooled torso's last conv before its "
             "pool, a residual torso's output; `gradcam_conv1`: the same at "
             "the first conv layer, finer); `perturbation` saliency "
             f"(Greydanus et al. 2018, all logits; patch/stride/blur sigma {game_name} {pp['patch']:g}/{pp['stride']}/"
             f"{pp['sigma']:g} px{catch_pert}); `blur_change`, the same "
             "perturbations scored by how much they change the input (no model: what the image alone shows); "
             f"`random`, uniform noise. Deletion/insertion: probability of the greedy action, {st['steps']} steps, "
             f"baseline = the frame blurred with sigma {st['blur_sigma']:g} px; mean ± std over frames.", ""]
    for task, res in tasks:
        lines += [f"## {task}: deletion / insertion AUC", "",
                  "| map | deletion AUC (lower is better) | insertion AUC (higher is better) |", "|---|---|---|"]
        for name in (k for k in res["deletion_insertion"] if k != "fractions"):
            d = res["deletion_insertion"][name]
            lines.append(f"| {name} | {pm(d['deletion_auc'])} | {pm(d['insertion_auc'])} |")
        stages = res["randomization"]["gradcam"]["stages"]
        lines += ["", f"## {task}: cascading randomisation (Spearman with the trained model's maps)", "",
                  "| map (frames) | " + " | ".join(f"+{s}" for s in stages) + " | Spearman with blur_change |",
                  "|---|" + "---|" * (len(stages) + 1)]
        for name in ("gradcam", "perturbation"):
            r = res["randomization"][name]
            lines.append(f"| {name} ({r['frames']}) | " + " | ".join(pm(s, 2) for s in r["spearman"])
                         + f" | {pm(res['spearman_with_blur_change'][name], 2)} |")
        lines.append("")
    lines += objects_markdown(atari) + removal_markdown(atari) + (toy_markdown(toy) if toy else [])
    keys = sorted(set().union(*(res["timings_s"] for _, res in tasks)))
    lines += ["## Timings (seconds)", "", "| task | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for task, res in tasks:
        lines.append(f"| {task} | " + " | ".join(f"{res['timings_s'][k]:.1f}" if k in res["timings_s"] else "–"
                                                 for k in keys) + " |")
    lines += ["", f"{game_name}: {atari['seconds_per_frame']:.3f} s per frame in all" + (
        f"; Catch: {toy['seconds_per_frame_excluding_training']:.4f} s per frame excluding training" if toy else "")
        + f". Command: `{st['command']}`", ""]
    return "\n".join(lines)


def objects_markdown(atari: dict) -> list[str]:
    """The object-mass tables where object positions are known (a colour table), else one line saying why not."""
    game = camel_game(atari["game"])
    if "objects" not in atari:
        return [f"No object checks: this tool locates objects by their colours, and "
                f"`eac3_tf.explain.colours.OBJECT_COLOURS` has no colour table for {game}.", ""]
    tol = atari["objects"]["stack"]["pointing_tolerance_cells"]
    classes = list(atari.get("objects_by_class", {}))
    lines = [f"## {game}: map mass on {', '.join(c.replace('_', ' ') for c in classes) or 'the objects'}", "",
             f"| masks | object area share | map | mass on objects | mass / area | pointing | pointing ±{tol} px |",
             "|---|---|---|---|---|---|---|"]
    rows = [(which, atari["objects"][which]) for which in ("stack", "current")]
    rows += [(f"current: {name}", o) for name, o in atari.get("objects_by_class", {}).items()]
    for which, o in rows:
        for name in (k for k in o if isinstance(o[k], dict) and "mass" in o[k]):
            ratio = "n/a" if o[name]["ratio"] is None else f"{o[name]['ratio']:.1f}x"
            lines.append(f"| {which} | {pm(o['area_share'], 4)} | {name} | {pm(o[name]['mass'])} | {ratio} | "
                         f"{o[name]['pointing']:.1%} | {o[name]['pointing_tolerant']:.1%} |")
    return lines + ["", "`stack`: objects on any of the 4 screens the input stacks; `current`: the newest screen "
                    f"only (`current: <class>`: one class of objects). ±{tol} px: within one Grad-CAM cell of an "
                    "object (Chebyshev distance on the 80x80 input). A frame whose mask is empty counts as a "
                    "pointing miss for every map alike, so a class that is often off screen scores low for all.",
                    ""]


def removal_markdown(atari: dict) -> list[str]:
    """What erasing each object class did to the agent, and how well each map's mass on it predicted that."""
    removal = atari.get("object_removal")
    if not removal or "spearman_mass_vs_kl" not in removal:
        return []
    lines = [f"## {camel_game(atari['game'])}: object removal (erase a class from the stacked screens, re-run "
             "the agent)", "", "| class | frames showing it | policy KL (nats) | abs. value change |",
             "|---|---|---|---|"]
    for name, c in removal["by_class"].items():
        if c["pairs"]:
            lines.append(f"| {name} | {c['pairs']} | {pm(c['kl'], 4)} | {pm(c['value_change'], 3)} |")
    lines += ["", f"Spearman over the {removal['pairs']} (frame, class) pairs; the `random` row is the chance level.",
              "", "| map | mass vs policy KL | mass / area share vs policy KL | mass vs value change |",
              "|---|---|---|---|"]
    for name in removal["spearman_mass_vs_kl"]:
        lines.append(f"| {name} | {removal['spearman_mass_vs_kl'][name]:.2f} | "
                     f"{removal['spearman_density_vs_kl'][name]:.2f} | "
                     f"{removal['spearman_mass_vs_value_change'][name]:.2f} |")
    return lines + [""]


def toy_markdown(toy: dict) -> list[str]:
    """The Catch pointing game and object mass, one agent and several."""
    ttol = toy["objects"]["pointing_tolerance_cells"]
    lines = ["## Catch: pointing game and object mass", "",
              f"Hit = the map's argmax is on the ball or the paddle cell; ±{ttol}: within {ttol} cell(s), one "
              "Grad-CAM cell (for the toy net also the 3x3 conv's receptive-field radius). The random row is chance.",
              "",
              f"| map | ball or paddle | ±{ttol} | ball | ball ±{ttol} | paddle | paddle ±{ttol} | mass on objects "
              "| mass / area |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name in toy["pointing_by_object"]:
        o, p = toy["objects"][name], toy["pointing_by_object"][name]
        ratio = "n/a" if o["ratio"] is None else f"{o['ratio']:.1f}x"
        lines.append(f"| {name} | {o['pointing']:.1%} | {o['pointing_tolerant']:.1%} | {p['ball']:.1%} | "
                     f"{p['ball_tolerant']:.1%} | {p['paddle']:.1%} | {p['paddle_tolerant']:.1%} | "
                     f"{pm(o['mass'])} | {ratio} |")
    ag = toy["agents"]
    lines += ["", f"### Catch: Grad-CAM pointing game over {len(ag['per_agent'])} independently trained agents", "",
              f"Each agent trained as above with its own seed, {ag['per_agent'][0]['frames']} frames of its own play. "
              "All-zero maps (ReLU cut everything) point nowhere and count as misses.", "",
              f"| seed | pointing | ±{ag['tolerance_cells']} | all-zero maps | ±{ag['tolerance_cells']} over the "
              "other maps |", "|---|---|---|---|---|"]
    for a in ag["per_agent"]:
        defined = "n/a" if a["pointing_tolerant_defined"] is None else f"{a['pointing_tolerant_defined']:.1%}"
        lines.append(f"| {a['seed']} | {a['pointing']:.1%} | {a['pointing_tolerant']:.1%} | {a['all_zero_maps']} | "
                     f"{defined} |")
    lines.append(f"| all ({ag['frames']} frames) | {ag['pooled']['pointing']:.1%} | "
                 f"{ag['pooled']['pointing_tolerant']:.1%} | {ag['all_zero_maps']} | |")
    off = ag["offsets"]
    shown = ", ".join(f"({k}) {v}" for k, v in off["most_common"].items())
    lines += ["", "Where the maxima of the maps that are not all zero lie, in cells from the nearest ball or paddle "
              "cell (Chebyshev distance): " + ", ".join(f"{k}: {v}" for k, v in off["by_distance"].items())
              + f". Most common offsets (rows down, columns right): {shown}."]
    return lines + ["", f"Catch object area share: {pm(toy['objects']['area_share'], 3)}.", ""]
