"""The tally of a kill -9 loop (`eac3_tf.reliability`): its progress lines, its summary and its Markdown page.

Plain functions of the round records the loop keeps (one dict per kill, the final resume's dict), so what the
report says is tested on records written by hand.
"""

from __future__ import annotations

from pathlib import Path


def round_line(rec: dict, kills: int, seen: int) -> str:
    """The progress line of one round that killed a started child (`seen`: checkpoints seen so far)."""
    expected = rec["expected_resume"]
    return (f"kill {rec['kill']:2d}/{kills}: SIGKILL {rec['seconds_after_ready']:5.2f} s after start, "
            f"{rec['saves_before_kill']} saves ({rec['mode']}); resumed "
            f"{'from ' + Path(expected).name if expected else 'from scratch'}: {'ok' if rec['resumed'] else 'NO'}; "
            f"newest {rec['newest'] or '-'} verifies and loads; frames {rec['frames_before']:,} -> {rec['frames']:,}; "
            f"{len(rec['new'])} new, {len(rec['listed'])} on disk, {seen} seen, all intact: "
            f"{'yes' if not rec['corrupt'] else 'NO'}"
            f"; leftover temp folders {len(rec['leftovers'])} (not listed)"
            + (f"; PROBLEMS: {rec['problems']}" if rec["problems"] else ""))


def summarize(rounds: list[dict], final: dict, kills: int, checkpoints_seen: int, settings: dict,
              seconds: float) -> dict:
    """The tally of the rounds and the final resume; "ok" only when every asked kill resumed and nothing failed.

    Round 1 starts a new run, so its resume does not count: the final resume stands in for it.
    """
    last_frames = max([0] + [r["frames"] for r in rounds if "frames" in r])
    resumed = sum(r.get("resumed", False) for r in rounds[1:]) + final["resumed"]
    corrupt = sorted({c for r in rounds for c in r.get("corrupt", [])} | set(final["corrupt"]))
    monotonic = all(r.get("frames", 0) >= r.get("frames_before", 0) for r in rounds) and (
        final["frames"] >= last_frames)
    problems = [f"kill {r['kill']}: {p}" for r in rounds for p in r.get("problems", [])] + [
        f"final resume: {p}" for p in final["problems"]]
    temp_seen = sorted({t for r in rounds for t in r.get("leftovers", [])})
    tally = {
        "kills": len(rounds), "kills_asked": kills, "resumed": resumed, "corrupt": len(corrupt),
        "frames_monotonic": monotonic, "first_frames": rounds[0].get("frames", 0) if rounds else 0,
        "last_frames": final["frames"], "mid_save_kills": sum(r.get("mode") == "mid-save" for r in rounds),
        "checkpoints_seen": checkpoints_seen, "temp_folders_left_by_kills": len(temp_seen),
        "kills_after_new_checkpoints": sum(bool(r.get("new")) for r in rounds),
        "temp_folders_listed_as_checkpoints": sum("temporary folder is listed" in p for p in problems),
        "leftovers_after_final_save": final["leftovers"], "problems": problems, "seconds": seconds,
        "settings": settings, "rounds": rounds, "final": final,
    }
    tally["ok"] = (not problems and len(rounds) == kills and resumed == kills)
    tally["line"] = (f"{resumed}/{kills} resumed, {len(corrupt)} corrupt, frames "
                     f"{'monotonic' if monotonic else 'NOT monotonic'} ({tally['first_frames']:,} -> "
                     f"{final['frames']:,}), {tally['mid_save_kills']} kills mid-save, {len(temp_seen)} temp folders "
                     f"left by kills, {tally['temp_folders_listed_as_checkpoints'] or 'none'} taken for a checkpoint")
    return tally


def markdown(tally: dict, command: str) -> str:
    """The tally as a Markdown page: the method in one paragraph, the tally line, a row per kill."""
    s = tally["settings"]
    lines = ["# kill -9 crash consistency", "",
             f"`{command}`: {s['task']}, {s['workers']} workers x {s['envs_per_worker']} envs, a checkpoint every "
             f"{s['checkpoint_every_frames']:,} frames, newest {s['keep']} kept; each round lets the trainer resume "
             f"and complete 0..2 new checkpoints (round 1: 1..2), then SIGKILLs it a uniform random "
             f"0..{s['window_s']:g} s later (even rounds: then at the next checkpoint save or removal in flight), "
             "and the next round resumes. "
             f"{tally['seconds']:.0f} s in all.", "",
             f"**{tally['line']}**", "",
             "| kill | moment | s after start | resumed from | newest after kill | frames | new checkpoints | "
             "on disk | leftover temp folders | all checks |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in tally["rounds"]:
        lines.append(f"| {r['kill']} | {r.get('mode', '-')} | {r.get('seconds_after_ready', 0):.2f} | "
                     f"{Path(r['expected_resume']).name if r.get('expected_resume') else 'scratch'}"
                     f"{'' if r.get('resumed') else ' (NO)'} | {r.get('newest') or '-'} | "
                     f"{r.get('frames', 0):,} | {len(r.get('new', []))} | {len(r.get('listed', []))} | "
                     f"{len(r.get('leftovers', []))} | "
                     f"{'ok' if not r.get('problems') else '; '.join(r['problems'])} |")
    f = tally["final"]
    lines += ["", f"Final resume: exit code {f['exit_code']}, ran to {f['frames']:,} frames, temp folders left "
              f"{len(f['leftovers'])}{'' if not f['problems'] else ', problems: ' + '; '.join(f['problems'])}.", ""]
    return "\n".join(lines)
