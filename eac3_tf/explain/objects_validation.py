"""How well each source's boxes (`eac3_tf.explain.objects`) sit on the pixels of their class, game by game.

A box is only ground truth if the object it names is drawn inside it. The pixels of a class are the exact
matches of its colours: the colour table (`eac3_tf.explain.colours.object_masks`) for the classes it has, and the
colours OCAtari's own classes declare (`rgb`) for classes only OCAtari has. For every box:

    coverage = inside / (inside + stray),  inside = class pixels in the box,
               stray = class pixels within `margin` px of the box that lie in no box of the class

so a box on its object scores 1, a box beside its object (an offset position) or on nothing scores 0, and
a box holding half of an object scores 0.5; pixels of a neighbouring object that has its own box do not
count against a box. Per class and source: the share of boxes with coverage >= `threshold` ("covering"),
their mean coverage, and the share of the class's pixels inside one of its boxes ("recall": objects the
source does not report). Both are measured on the screens the agent sees (`screen`: `AtariBatchEnv`'s max
over the last two frames of a skip) and on the last frame alone (`frame`: the frame after which the RAM
was read, where a moving object is drawn once). `choose` turns them into the source of each class
(`objects.SOURCES`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from eac3_tf.config import EnvConfig, ObsConfig
from eac3_tf.explain import objects as ob

GAMES = ("pong", "space_invaders", "demon_attack", "beam_rider", "phoenix", "qbert")
PLAY_ROWS = (ObsConfig.crop_top, ObsConfig.crop_bottom)


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    """What the validation plays and how it scores.

    Attributes:
        games: ALE rom ids, each of `ob.OCATARI`.
        steps: agent steps of uniformly random play per game (EnvConfig defaults: v5 settings).
        seed: the env's and the random policy's seed.
        margin: pixels a box is grown by on each side to count the class pixels near it.
        threshold: the coverage from which a box counts as covering its object.
    """

    games: tuple[str, ...] = GAMES
    steps: int = 300
    seed: int = 0
    margin: int = 8
    threshold: float = 0.5

    def __post_init__(self) -> None:
        unknown = [g for g in self.games if g not in ob.OCATARI]
        if unknown or not self.games:
            raise ValueError(f"games must be some of {', '.join(ob.OCATARI)}, got {list(self.games)}")
        if not 1 <= self.steps <= 100_000:
            raise ValueError(f"steps must be 1..100000, got {self.steps}")
        if not 0 <= self.margin <= 40:
            raise ValueError(f"margin must be 0..40, got {self.margin}")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")


def class_pixels(game: str, screens: np.ndarray) -> dict[str, np.ndarray]:
    """Bool [T, 210, 160] pixels of each class of the game in the play area.

    Colour-table classes by its colours, OCAtari-only classes by the colours OCAtari declares for them.
    """
    from eac3_tf.explain import colours

    screens = np.asarray(screens)
    full = np.zeros(screens.shape[:-1], bool)
    out = {}
    for name, mask in colours.object_masks(game, screens, PLAY_ROWS).items():
        if name != "objects":
            out[name] = full.copy()
            out[name][:, PLAY_ROWS[0]:PLAY_ROWS[1]] = mask
    if ob.ocatari_available():
        import importlib

        module_name, mapping = ob.OCATARI[game]
        module = importlib.import_module(f"ocatari.ram.{module_name.lower()}")
        area = screens[:, PLAY_ROWS[0]:PLAY_ROWS[1]]
        for name, categories in mapping.items():
            if name in out:
                continue
            colours = {tuple(getattr(module, c)().rgb) for c in categories}
            hit = np.zeros(area.shape[:-1], bool)
            for rgb in colours:
                hit |= np.all(area == np.array(rgb, area.dtype), axis=-1)
            out[name] = full.copy()
            out[name][:, PLAY_ROWS[0]:PLAY_ROWS[1]] = hit
    return out


def coverage(boxes: list[np.ndarray], pixels: np.ndarray, margin: int, threshold: float) -> dict:
    """Scores of one class's boxes (one int [k, 4] array per frame) against its pixels bool [T, H, W]."""
    covers, inside_all = [], np.zeros(pixels.shape, bool)
    h, w = pixels.shape[1:]

    def counter(mask: np.ndarray) -> Callable[[int, int, int, int], int]:
        integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))

        def count(x0: int, y0: int, x1: int, y1: int) -> int:
            x0, x1, y0, y1 = max(x0, 0), min(x1, w), max(y0, 0), min(y1, h)
            return 0 if x1 <= x0 or y1 <= y0 else int(integral[y1, x1] - integral[y0, x1] - integral[y1, x0]
                                                      + integral[y0, x0])
        return count

    for t, frame_boxes in enumerate(boxes):
        inside_all[t] = ob.box_masks(frame_boxes, (h, w))
        count_in, count_stray = counter(pixels[t]), counter(pixels[t] & ~inside_all[t])
        for x, y, bw, bh in frame_boxes:
            inside = count_in(x, y, x + bw, y + bh)
            stray = count_stray(x - margin, y - margin, x + bw + margin, y + bh + margin)
            covers.append(inside / (inside + stray) if inside else 0.0)
    total = int(pixels.sum())
    covers = np.array(covers)
    return {
        "boxes": int(covers.size),
        "covering": round(float((covers >= threshold).mean()), 4) if covers.size else None,
        "mean_coverage": round(float(covers.mean()), 4) if covers.size else None,
        "recall": round(float((inside_all & pixels).sum() / total), 4) if total else None,
        "class_pixels": total,
        "frames_with_pixels": int(pixels.any(axis=(1, 2)).sum()),
    }


def validate_game(game: str, config: ValidationConfig) -> dict:
    """Play `config.steps` random steps of `game` and score every class of both sources on both screens."""
    play = ob.play(EnvConfig(game=game), config.steps, config.seed)
    result: dict = {"game": game, "steps": int(len(play.screens)), "games_started": int(play.starts.sum()),
                    "classes": {}}
    sources = {"colours": (ob.colour_boxes(game, play.screens), ob.colour_boxes(game, play.frames))}
    errors = {}
    if ob.ocatari_available():
        try:
            ram_boxes = ob.ocatari_boxes(game, play.rams, play.starts)
            sources["ocatari"] = (ram_boxes, ram_boxes)
        except Exception as e:  # OCAtari's readers raise what they raise; the report says which
            errors["ocatari"] = f"{type(e).__name__}: {e}"
    pixels = {"screen": class_pixels(game, play.screens), "frame": class_pixels(game, play.frames)}
    for name in pixels["screen"]:
        row = {}
        for source, (on_screen, on_frame) in sources.items():
            if name not in on_screen[0]:
                continue
            row[source] = {ref: coverage([b[name] for b in boxes], pixels[ref][name], config.margin,
                                         config.threshold)
                           for ref, boxes in (("screen", on_screen), ("frame", on_frame))}
        row["source"] = ob.SOURCES[game].get(name, "none")
        row["chosen"] = choose(row)
        result["classes"][name] = row
    if errors:
        result["errors"] = errors
    return result


def choose(row: dict, threshold: float = 0.9) -> str:
    """The source a class should come from, from its row of `validate_game`.

    "ocatari" where, on the agent's screen or on the RAM's own frame, at least `threshold` of its boxes
    cover their object and they hold at least `threshold` of the class's pixels; "colours" where the colour
    table has the class and OCAtari falls short; "none" otherwise.
    """
    scores = row.get("ocatari", {})
    if any(s["boxes"] and s["covering"] >= threshold and (s["recall"] or 0) >= threshold
           for s in scores.values()):
        return "ocatari"
    return "colours" if "colours" in row else "none"


def validate(config: ValidationConfig, progress: Callable = lambda it, **_: it) -> dict:
    """`validate_game` for each game of the config."""
    import ale_py

    versions = {"ale_py": ale_py.__version__, "numpy": np.__version__}
    if ob.ocatari_available():
        from importlib.metadata import version

        versions["ocatari"] = version("ocatari")
    games = [validate_game(g, config) for g in progress(config.games, desc="games")]
    return {"config": dataclasses.asdict(config), "versions": versions, "games": games}


def _fmt(score: dict | None, ref: str) -> str:
    if score is None:
        return "-"
    s = score[ref]
    if not s["boxes"]:
        return f"0 boxes, recall {s['recall'] if s['recall'] is not None else '-'}"
    recall = "-" if s["recall"] is None else f"{s['recall']:.2f}"
    return f"{s['covering']:.2f} / {s['mean_coverage']:.2f} / {recall} ({s['boxes']})"


def markdown(result: dict, command: str) -> str:
    """The validation as Markdown tables, one row per game and class."""
    cfg = result["config"]
    lines = [
        "# Object boxes against their pixels",
        "",
        f"Command: `{command}`",
        "",
        f"Versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}. {cfg['steps']} steps of "
        f"uniformly random play per game (seed {cfg['seed']}, EnvConfig defaults: v5 settings, max over the "
        "last two frames), screens and RAM from the same emulator states (`RamAtariEnv`).",
        "",
        f"Each cell: covering / mean coverage / recall (boxes). Coverage of a box = class pixels inside it / "
        f"class pixels inside it grown by {cfg['margin']} px on each side; covering = share of boxes with "
        f"coverage >= {cfg['threshold']}; recall = share of the class's pixels inside one of its boxes. "
        "Class pixels: the colour table's colours (`eac3_tf.explain.colours.OBJECT_COLOURS`), or for classes only "
        "OCAtari has, the colours OCAtari declares. `screen`: the screen the agent sees; `frame`: the last "
        "frame alone, the one the RAM was read after.",
        "",
        "`choose` (the rule `objects.SOURCES` follows): OCAtari where, on the screen or on the frame, >= 0.9 of "
        "its boxes cover their object and recall is >= 0.9; else the colour table where it has the class; else "
        "none. `source used`: what `objects.boxes(..., source='auto')` gives today.",
        "",
        "| game | class | source used | choose | OCAtari, screen | OCAtari, frame | colours, screen | colours, frame |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in result["games"]:
        for name, row in g["classes"].items():
            lines.append(f"| {g['game']} | {name} | {row['source']} | {row['chosen']} | "
                         f"{_fmt(row.get('ocatari'), 'screen')} | "
                         f"{_fmt(row.get('ocatari'), 'frame')} | {_fmt(row.get('colours'), 'screen')} | "
                         f"{_fmt(row.get('colours'), 'frame')} |")
    errors = [(g["game"], s, e) for g in result["games"] for s, e in g.get("errors", {}).items()]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {g}, {s}: `{e}`" for g, s, e in errors]
    return "\n".join(lines)
