"""Game variants as interventions: the agent's score and its saliency maps' mass with and without a change.

A map that puts mass on the enemy paddle claims the agent uses it; HackAtari (Delfosse et al. 2024) changes
a game's rules by writing its RAM before every emulator frame (a lazy enemy, a drifting ball, no shields),
so the claim can be tested: if the score does not move when the enemy stops moving, the agent does not need
the enemy's movement, whatever the maps say.

* `HackAtariEnv` plays a variant through the one protocol of our training env: it is `RamAtariEnv` (reset,
  FIRE, frame skip with ALE's own sticky actions, a max over the last two frames) on the ALE of a HackAtari
  env, with HackAtari's modification functions run before each frame, as HackAtari's own `step` runs them.
  HackAtari's `step` is not used: it skips frames and pools its own way.
* `check_variant` proves a variant took effect: HackAtari accepts any name and silently ignores an unknown
  one, so a typo would report the unmodified game as the variant.
* `mass_by_class` and `mass_moves` (plain numpy) say where each method's mass sits on each object class.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from eac3_tf.config import EnvConfig, ObsConfig
from eac3_tf.errors import Eac3Error
from eac3_tf.explain.ram_env import RamAtariEnv

INSTALL = 'pip install "eac3_tf[objects]" && pip install --no-deps ocatari==2.2.1 hackatari==0.0.6'


class VariantError(Eac3Error):
    """A variant that cannot be played or measured: unknown, unavailable, or without effect."""


def _modifications(game: str):
    """HackAtari's `GameModifications` class of an ALE rom id ("space_invaders" -> games/spaceinvaders.py)."""
    try:
        module = importlib.import_module(f"hackatari.games.{game.replace('_', '')}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "hackatari" and exc.name.count(".") < 2:
            raise VariantError(f"hackatari is not installed: {INSTALL}") from None
        raise VariantError(f"HackAtari has no variants of {game!r}") from None
    return module.GameModifications


def known_variants(game: str) -> tuple[str, ...]:
    """The variant names HackAtari defines for `game`: the public methods of its `GameModifications`."""
    cls = _modifications(game)
    return tuple(sorted(n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))))


def gym_id(game: str) -> str:
    """The gymnasium id of an ALE rom id, as HackAtari wants it ("demon_attack" -> "ALE/DemonAttack-v5")."""
    return "ALE/" + "".join(part.capitalize() for part in game.split("_")) + "-v5"


class _ModifiedALE:
    """An ALE whose `act` runs HackAtari's modifications first, and whose `reset_game` runs its reset ones after."""

    def __init__(self, hack) -> None:
        self._hack, self._ale = hack, hack._env.unwrapped.ale

    def act(self, action, *args):
        for modify in self._hack.step_modifs:
            modify()
        reward = self._ale.act(action, *args)
        if self._hack.post_detection_modifs:  # they read the objects HackAtari's step would have detected
            self._hack.detect_objects()
            for modify in self._hack.post_detection_modifs:
                modify()
        return reward

    def reset_game(self) -> None:
        self._ale.reset_game()
        for modify in self._hack.reset_modifs:
            modify()

    def __getattr__(self, name: str):
        return getattr(self._ale, name)


class HackAtariEnv(RamAtariEnv):
    """`RamAtariEnv` on a HackAtari game with `variants` applied (none: the unmodified game, through HackAtari).

    Seeded as `RamAtariEnv` seeds its ALE (and so as the vector interface seeds env 0), so for the same seed
    and actions the unmodified game gives `AtariBatchEnv`'s observations, sticky actions included.
    """

    def __init__(self, env: EnvConfig, obs: ObsConfig | None = None, variants: tuple[str, ...] = ()) -> None:
        """Check the variant names against HackAtari's and build its env; VariantError for an unknown one."""
        super().__init__(env, obs)
        known = known_variants(env.game)
        unknown = sorted(set(variants) - set(known))
        if unknown:
            raise VariantError(f"unknown {env.game} variant(s) {', '.join(unknown)}; HackAtari's: {', '.join(known)}")
        import warnings

        from hackatari import HackAtari

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._hack = HackAtari(gym_id(env.game), modifs=list(variants), mode="ram", obs_mode="ori",
                                   frameskip=1, repeat_action_probability=env.repeat_action_probability,
                                   full_action_space=env.full_action_space,
                                   max_num_frames_per_episode=env.max_episode_frames)
        self.variants = tuple(variants)
        applied = len(self._hack.step_modifs) + len(self._hack.reset_modifs) + len(self._hack.post_detection_modifs)
        if len(set(variants)) != applied:
            raise VariantError(f"HackAtari applies {applied} modification function(s) for {variants}; "
                               "each variant must name one")
        self._ale_cls = lambda: _ModifiedALE(self._hack)

    def _seeded(self, ale, seed: int):
        """HackAtari's own ALE, seeded and reloaded as `RamAtariEnv` does its fresh one."""
        super()._seeded(ale._ale, seed)
        return ale

    def close(self) -> None:
        """Free the emulator and HackAtari's env."""
        super().close()
        self._hack.close()


# --------------------------------------------------------------------------- did the variant take effect?
def _centre(mask: np.ndarray) -> np.ndarray:
    """(row, column) centre of each mask [T, H, W]; NaN where empty."""
    n = mask.sum(axis=(1, 2)).astype(np.float64)
    rows, cols = np.arange(mask.shape[1]), np.arange(mask.shape[2])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([(mask.sum(axis=2) * rows).sum(axis=1) / n, (mask.sum(axis=1) * cols).sum(axis=1) / n], 1)


def opponent_follows_ball(screens: np.ndarray) -> float:
    """Pong: the share of steps the ball travels towards the agent (rightwards) on which the enemy paddle moves.

    A lazy enemy stops once it has returned the ball, so this share falls to about zero; the game's own enemy
    tracks the ball all the time.
    """
    from eac3_tf.explain.colours import object_masks

    masks = object_masks("pong", screens)
    ball, enemy = _centre(masks["ball"]), _centre(masks["opponent"])
    towards = np.diff(ball[:, 1]) > 0
    moved = np.abs(np.diff(enemy[:, 0])) > 0
    ok = towards & np.isfinite(np.diff(enemy[:, 0]))
    return float(moved[ok].mean()) if ok.any() else float("nan")


SPECIFIC: dict[tuple[str, str], tuple[str, Callable[[np.ndarray], float], str]] = {
    ("pong", "lazy_enemy"): ("enemy moves while the ball approaches the agent (share of steps)",
                             opponent_follows_ball, "lower"),
}


def _trace(env: RamAtariEnv, actions: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Screens and RAMs [T, ...] of `env` after each of `actions`, from a reset with `seed`."""
    env.reset(seed)
    screens, rams = [], []
    for a in actions:
        env.step(np.array([a]))
        screens.append(env.last_screens[0].copy())
        rams.append(env.last_rams[0].copy())
    return np.stack(screens), np.stack(rams)


def check_variant(env: EnvConfig, variant: str, steps: int = 400, seed: int = 0) -> dict:
    """Prove `variant` changes `env.game`: the same seed and random actions, unmodified twice and once with it.

    The two unmodified runs must agree screen for screen (the emulator is deterministic given its seed, sticky
    actions included), so any difference in the variant's run is the variant's doing; no difference in
    `steps` agent steps raises VariantError, as does a variant-specific measure (`SPECIFIC`) that did not move
    the expected way. Returns the share of steps whose screens differ, the RAM bytes that ever differ and the
    specific measure in both games.
    """
    rng = np.random.default_rng(seed)
    plain = HackAtariEnv(env)
    actions = rng.integers(0, plain.num_actions, size=steps)
    try:
        a_screens, a_rams = _trace(plain, actions, seed)
        b_screens, _ = _trace(plain, actions, seed)
    finally:
        plain.close()
    if not np.array_equal(a_screens, b_screens):
        raise VariantError(f"{env.game}: two unmodified runs with seed {seed} differ; the check needs a "
                           "deterministic emulator")
    modified = HackAtariEnv(env, variants=(variant,))
    try:
        v_screens, v_rams = _trace(modified, actions, seed)
    finally:
        modified.close()
    differ = (v_screens != a_screens).any(axis=(1, 2, 3))
    out = {"variant": variant, "steps": int(steps), "seed": int(seed), "steps_screen_differs": float(differ.mean()),
           "first_differing_step": int(np.argmax(differ)) if differ.any() else None,
           "ram_bytes_differ": np.flatnonzero((v_rams != a_rams).any(axis=0)).tolist()}
    if not differ.any():
        raise VariantError(f"{env.game} variant {variant!r} changed no screen in {steps} steps of random play")
    if (env.game, variant) in SPECIFIC:
        what, measure, direction = SPECIFIC[(env.game, variant)]
        base, changed = measure(a_screens), measure(v_screens)
        out["specific"] = {"measure": what, "unmodified": base, "variant": changed, "expected": direction}
        if not (changed < 0.5 * base if direction == "lower" else changed > 2 * base):
            raise VariantError(f"{env.game} variant {variant!r}: {what} is {changed:.3f}, unmodified {base:.3f}; "
                               f"expected it much {direction}")
    out["passed"] = True
    return out


def adapter_parity(env: EnvConfig, obs: ObsConfig, steps: int = 300, seed: int = 0) -> dict:
    """Observations of the unmodified `HackAtariEnv` against `AtariBatchEnv`'s, for the same seed and random actions.

    Returns the share of steps whose inputs are bit-identical and the largest pixel difference.
    """
    from eac3_tf.envs import AtariBatchEnv

    ours, hack = AtariBatchEnv(env, obs, 1), HackAtariEnv(env, obs)
    actions = np.random.default_rng(seed).integers(0, hack.num_actions, size=steps)
    try:
        x, y = [ours.reset(seed)[0]], [hack.reset(seed)[0]]
        for a in actions:
            x.append(ours.step(np.array([a]))[0][0])
            y.append(hack.step(np.array([a]))[0][0])
    finally:
        ours.close()
        hack.close()
    x, y = np.stack(x).astype(np.int16), np.stack(y).astype(np.int16)
    same = (x == y).all(axis=(1, 2, 3))
    return {"steps": int(steps), "seed": int(seed), "sticky": env.repeat_action_probability,
            "identical_share": float(same.mean()), "max_abs_diff": int(np.abs(x - y).max())}


# --------------------------------------------------------------------------- where the maps' mass sits
def mass_by_class(maps: np.ndarray, class_masks: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per class: frames it is on, the mean share of map mass on it, and that over its mean area share.

    maps: [T, h, w] non-negative; class_masks: {class: bool [T, H, W]} at a whole multiple of the maps' size
    (a cell counts as the object's if any pixel is, as `downsample_mask` does). A density of 1.0 is what a
    map spread evenly gets; frames without the class, or a map without mass, are left out.
    """
    from eac3_tf.explain.colours import downsample_mask
    from eac3_tf.explain.measures import mass_ratio

    out = {}
    for name, m in class_masks.items():
        small = downsample_mask(m, maps.shape[1:3])
        on = small.any(axis=(1, 2))
        mass, density = mass_ratio(maps[on], small[on], massless_area=False)
        ok = np.isfinite(mass)
        if not ok.any():
            out[name] = {"frames": 0, "mass": None, "density": None}
            continue
        out[name] = {"frames": int(ok.sum()), "mass": float(mass[ok].mean()), "density": density}
    return out


def mass_moves(base: dict[str, dict], variant: dict[str, dict]) -> dict[str, float | None]:
    """Per class, variant minus unmodified mean mass share (None where either has no frames of the class)."""
    return {name: (variant[name]["mass"] - row["mass"]
                   if name in variant and row["mass"] is not None and variant[name]["mass"] is not None else None)
            for name, row in base.items()}


def spread(n: int, total: int) -> np.ndarray:
    """`n` step indices spread evenly over `total` recorded steps (all of them when there are fewer)."""
    return np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(np.int64))


# --------------------------------------------------------------------------- the agent in each game
def play(policy: Callable[[np.ndarray], np.ndarray], env: RamAtariEnv, episodes: int, seed: int,
         record: int) -> tuple[list[float], dict[str, np.ndarray]]:
    """`episodes` full games of `policy` in `env`: their scores, and the first `record` steps of its own play.

    The recording holds the inputs, the screens they were made from and which begin an episode.
    """
    from eac3_tf.rollout import rollout

    inputs, screens, starts = [], [], []

    def on_step(obs: np.ndarray, last: np.ndarray, _actions: np.ndarray, start: np.ndarray) -> None:
        if len(inputs) < record:
            inputs.append(obs[0].copy())
            screens.append(last[0].copy())
            starts.append(bool(start[0]))

    games = rollout(policy, env, seed, episodes=episodes, on_step=on_step)
    return [s for s, _ in games], {"inputs": np.stack(inputs), "screens": np.stack(screens),
                                   "starts": np.array(starts)}


def method_masses(model, game: str, obs: ObsConfig, inputs: np.ndarray, screens: np.ndarray,
                  methods: tuple[str, ...], batch: int = 32) -> dict[str, dict]:
    """`mass_by_class` of each method's maps (of the greedy action) on recorded inputs and their screens."""
    from eac3_tf.explain.colours import object_masks
    from eac3_tf.explain.methods import explain

    masks = object_masks(game, screens, (obs.crop_top, obs.crop_bottom))
    masks.pop("objects")
    out = {}
    for method in methods:
        maps = np.concatenate([explain(model, inputs[i:i + batch], method=method).maps
                               for i in range(0, len(inputs), batch)])
        out[method] = mass_by_class(maps, masks)
    return out


def _f(x: float | None, fmt: str = "{:+.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def markdown(reports: list[dict], command: str, episodes: int, frames: int) -> str:
    """The scores, effect checks and mass tables of `reports` (one per agent) as Markdown."""
    lines = ["# Game variants as interventions", "", f"`{command}`", "",
             f"{episodes} full games per game and variant; maps of the greedy action on {frames} agent steps spread "
             "over each game's first steps of the agent's own play. Mass: the share of a map's mass on the class; "
             "density: that over the class's area share (1.0 = an even map)."]
    for r in reports:
        p = r["parity"]
        lines += ["", f"## {r['game']} ({r['policy']} actions, {r['checkpoint']})", "",
                  f"Adapter against `AtariBatchEnv` (sticky {p['sticky']}, seed {p['seed']}, {p['steps']} random "
                  f"steps): {100 * p['identical_share']:.0f}% of inputs bit-identical, max |diff| {p['max_abs_diff']}.",
                  "", "| game | mean ± std | min | max | games |", "|---|---|---|---|---|"]
        for v, g in r["games"].items():
            lines.append(f"| {v} | {g['mean']:.2f} ± {g['std']:.2f} | {min(g['scores']):g} | {max(g['scores']):g} | "
                         f"{len(g['scores'])} |")
        if r["checks"]:
            lines += ["", "| variant | steps whose screen differs | RAM bytes changed | specific check |",
                      "|---|---|---|---|"]
            for v, c in r["checks"].items():
                s = c.get("specific")
                spec = (f"{s['measure']}: {s['unmodified']:.3f} → {s['variant']:.3f}" if s else "–")
                lines.append(f"| {v} | {100 * c['steps_screen_differs']:.0f}% (first at step "
                             f"{c['first_differing_step']}) | {c['ram_bytes_differ']} | {spec} |")
        games = list(r["games"])
        methods = list(r["games"]["none"]["mass"])
        classes = list(r["games"]["none"]["mass"][methods[0]])
        lines += ["", "Mass share on each class (density in brackets) per game:", "",
                  "| method | class | " + " | ".join(games) + " |", "|---|---|" + "---|" * len(games)]
        for m in methods:
            for c in classes:
                cells = []
                for v in games:
                    row = r["games"][v]["mass"][m][c]
                    cells.append("–" if row["mass"] is None else f"{row['mass']:.3f} ({row['density']:.2f})")
                lines.append(f"| {m} | {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
