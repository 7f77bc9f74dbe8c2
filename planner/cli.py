"""The `planner` command: a thin shell over the package's functions.

Verbs (stable contract): validate, generate, reach, solve, check, propose, simulate, brief,
sweep, export-model, import-imdf, import-osm, import-gis, doors infer, residents fill. Exit codes
are those of `planner.errors`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from planner import __version__
from planner.errors import EXIT_BREACH, EXIT_INFEASIBLE, EXIT_OK, InputError, PlannerError, ValidationFailed
from planner.files import Interrupted, install_signal_handlers, restore_signal_handlers
from planner.progress import disable_progress, enable_progress

if TYPE_CHECKING:
    from planner.station import Station


def _csv_list(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def _float_list(text: str) -> list[float]:
    try:
        return [float(t) for t in _csv_list(text)]
    except ValueError:
        raise InputError("--budgets", text, "is not a comma-separated list of numbers",
                         "write e.g. --budgets 2e6,4e6,6e6") from None


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Parameter overrides from the command line (only the options given)."""
    out: dict[str, Any] = {}
    for opt, name in (("objective", "objective"), ("budget", "budget"), ("backup", "backup_k"), ("backup_goal", "backup_goal"),
                      ("time_limit", "time_limit_s"), ("gap", "mip_gap"), ("solver", "solver"),
                      ("reach_s", "reach_s"), ("speed", "walk_speed_m_s"),
                      ("area_per_occupant", "area_per_occupant_m2"), ("max_displaced", "max_displaced"),
                      ("verify_target", "verify_target_share"), ("verify_rounds", "verify_rounds"),
                      ("verify_seeds", "verify_seeds"), ("verify_safety_s", "verify_safety_s"),
                      ("expected_share", "expected_share_target")):
        v = getattr(args, opt, None)
        if v is not None:
            out[name] = v
    if getattr(args, "no_queue", False):
        out["door_queue"] = False
    for opt in ("protect", "require"):
        v = getattr(args, opt, None)
        if v:
            out[opt] = _csv_list(v)
    return out


def _cache_dir(args: argparse.Namespace) -> Path | None:
    """The reach-table cache of the command line (`planner.network.default_cache_dir`); None with --no-cache."""
    from planner.network import default_cache_dir

    return None if getattr(args, "no_cache", False) else default_cache_dir()


def _load(args: argparse.Namespace, validate: bool = True) -> Station:
    from planner.station import load_station

    station = load_station(args.station, scenario=getattr(args, "scenario", None))
    over = _overrides(args)
    if over:
        # protect/require extend (not replace) what the scenario file lists
        for key in ("protect", "require"):
            if key in over:
                over[key] = sorted(set(getattr(station.params, key)) | set(over[key]))
        station.params = station.params.replace(**over)
        unknown = [r for r in station.params.protect + station.params.require
                   if r not in set(station.rooms["room_id"])]
        if unknown:
            raise InputError("--protect/--require", ", ".join(unknown), "names rooms that do not exist",
                             "give room_id values from rooms.geojson")
    if validate:
        from planner.validate import require_valid

        for w in require_valid(station):
            print(f"warning: {w}", file=sys.stderr)
    return station


# ----------------------------------------------------------------------- verbs
def cmd_validate(args: argparse.Namespace) -> int:
    from planner.validate import summarize, walk_findings

    station = _load(args)
    walks = walk_findings(station)
    if any(w.level == "error" for w in walks):
        raise ValidationFailed(walks)
    for w in walks:
        print(f"warning: {w}", file=sys.stderr)
    print(summarize(station))
    print(f"\n{station.title}: valid.")
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    from planner.generate import generate_station

    kwargs: dict[str, Any] = {}
    if args.decks is not None:
        kwargs["decks"] = args.decks
    out = generate_station(args.rooms, args.seed, args.out, name=args.name, **kwargs)
    print(f"wrote station to {out}")
    return EXIT_OK


def cmd_reach(args: argparse.Namespace) -> int:
    from planner.network import reach_summary, reach_table
    from planner.progress import stage

    if args.out:
        from planner.plan import check_table_path

        check_table_path(Path(args.out))  # before the work: a bad or taken name costs nothing
    station = _load(args)
    with stage("reach table"):
        reach = reach_table(station, cache_dir=_cache_dir(args))
    print(reach_summary(station, reach))
    if args.out:
        from planner.plan import write_table

        write_table(reach.pairs, Path(args.out))
        print(f"wrote {len(reach.pairs)} pairs to {args.out}")
    return EXIT_OK


def _solve_options(args: argparse.Namespace) -> Any:
    """The `SolveOptions` of --backend / --pulp-solver (None: the defaults)."""
    from planner.model import SolveOptions

    backend = getattr(args, "backend", None) or "highspy"
    name = getattr(args, "pulp_solver", None)
    if name and backend != "pulp":
        raise InputError("--pulp-solver", name, "needs the PuLP backend", "add --backend pulp")
    if backend == "highspy":
        return None
    return SolveOptions(backend="pulp", solver=name or None)


def _solve_out(out: Path) -> Path:
    """plan.json inside the --out folder of `solve`; refused before the work when it cannot be written
    without overwriting (`OutputError`, exit 5)."""
    from planner.errors import OutputError

    if os.path.lexists(out) and not os.path.isdir(out):
        raise OutputError(f"{out}: exists and is not a folder; nothing was written. "
                          "Fix: give --out a folder (new or existing) for plan.json")
    target = out / "plan.json"
    if os.path.lexists(target):
        raise OutputError(f"{target}: exists and would be overwritten; nothing was written. "
                          "Fix: give --out a folder without a plan.json, or move the old plan away")
    return target


def cmd_solve(args: argparse.Namespace) -> int:
    from planner.pipeline import plan_station
    from planner.plan import write_json_atomic

    options = _solve_options(args)  # bad options are input errors (exit 2), told before the output check
    target = _solve_out(Path(args.out))
    station = _load(args)
    run = plan_station(station, fallback_max_cover=False, cache_dir=_cache_dir(args), options=options)
    path = write_json_atomic(target, run.plan)
    print(run.describe())
    print(f"wrote {path}")
    return EXIT_OK


def cmd_export_model(args: argparse.Namespace) -> int:
    from planner.files import write_atomic
    from planner.pipeline import model_problem, prepare

    station = _load(args)
    sites, reach, costs = prepare(station, cache_dir=_cache_dir(args))
    # the model `solve` and `propose` optimise: walks timed with the queues of issue 17 (own door,
    # door used), residents no plan can bring in in time taken out
    prob = model_problem(station, reach, sites, costs)[0].to_pulp()
    out = Path(args.out)
    if args.format == "mps":
        write_atomic(out, lambda tmp: prob.writeMPS(str(tmp), with_objsense=True))
    else:
        write_atomic(out, lambda tmp: prob.writeLP(str(tmp)))
    rows = prob.numConstraints()
    print(f"wrote the {station.params.objective} model of {station.title} ({len(prob.variables()):,} variables, "
          f"{rows:,} rows) to {out}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from planner.check import check_plan, format_breaches
    from planner.checkqueue import corridor_findings
    from planner.checkswap import swap_findings
    from planner.network.paths import walk_graph
    from planner.plan import read_plan

    station = _load(args)  # the station's own parameters, with the overrides given to check
    plan = read_plan(Path(args.plan))
    graph = walk_graph(station)   # built once, for the check and its corridor findings
    breaches = check_plan(station, plan, graph=graph)  # never the planner's cache
    for f in swap_findings(plan):   # allowed, but worth knowing (issue 17): findings, not breaches
        print(f"warning: {f}")
    for f in corridor_findings(station, plan, graph):   # what the lazy corridor rows leave late: findings (issue 17)
        print(f"warning: {f}")
    if breaches:
        print(format_breaches(breaches))
        return EXIT_BREACH
    print(f"{args.plan}: no breaches (parameters, capacity, door queues, walking times, budget, coverage all hold).")
    return EXIT_OK


def cmd_propose(args: argparse.Namespace) -> int:
    from planner.pipeline import plan_station
    from planner.proposal import propose

    station = _load(args)
    verified = None
    if args.verify:
        from planner.simulate import jupedsim_available
        from planner.verify import verify_plan

        if not jupedsim_available():
            raise InputError("--verify", "jupedsim", "the pedestrian simulator JuPedSim cannot be imported",
                             "install it: pip install --no-deps jupedsim 'deprecated~=1.2' (or pip install '.[sim]'), "
                             "or propose without --verify")
        verified = verify_plan(station, speed_sd=args.speed_sd, workers=args.workers, cache_dir=_cache_dir(args))
        run = verified.run
    else:
        run = plan_station(station, cache_dir=_cache_dir(args))
    sweep = None
    if args.whatif_budgets > 0:
        from planner.progress import stage
        from planner.sweep import quick_sweep, whatif_cache_dir

        with stage(f"budget what-if ({args.whatif_budgets} budgets, {args.whatif_time_limit:.0f} s each)"):
            sweep = quick_sweep(run, n=args.whatif_budgets, time_limit_s=args.whatif_time_limit,
                                cache_dir=whatif_cache_dir(_cache_dir(args)))
    folder = propose(station, out_root=Path(args.out), scenario_name=args.scenario, run=run, sweep=sweep,
                     simulation=verified.simulation if verified is not None else None, cache_dir=_cache_dir(args))
    print(f"proposal written to {folder}")
    if verified is not None:
        for line in verified.summary_lines():
            print(line)
        if not verified.met:
            print(f"error: the simulated target was not met; the proposal says so. {verified.reason}", file=sys.stderr)
            return EXIT_INFEASIBLE
    return EXIT_OK


def cmd_brief(args: argparse.Namespace) -> int:
    from planner.briefing import write_briefing
    from planner.network import reach_table
    from planner.plan import read_plan
    from planner.progress import stage

    station = _load(args, validate=False)
    plan_path = Path(args.plan)
    plan = read_plan(plan_path)
    made_for = plan.get("inputs_sha256")
    if made_for and made_for != station.inputs_sha256():
        print(f"warning: {plan_path} was made for other inputs than {args.station} (inputs_sha256 differs): "
              "the placards show the plan as it is; run planner propose again if the station changed",
              file=sys.stderr)
    with stage("reach table"):
        reach = reach_table(station, cache_dir=_cache_dir(args))
    sim = Path(args.simulation) if args.simulation else plan_path.parent / "simulation.json"
    with stage("briefing (placards, interactive map, briefing sheet)"):
        out = write_briefing(station, plan, reach, Path(args.out), lang=args.lang, paper=args.paper,
                             rooms=_csv_list(args.rooms) or None, placards=not args.no_placards, simulation=sim)
    for path in out.values():
        print(f"wrote {path}")
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from planner.files import staged_folder
    from planner.plan import read_plan
    from planner.progress import log, stage
    from planner.proposal import proposal_name
    from planner.simulate import simulate_plan, summary_lines, write_simulation
    from planner.station import load_station

    station = load_station(args.station, scenario=args.scenario_file)
    plan = read_plan(Path(args.plan))
    scen = _csv_list(args.scenario) or None
    decks = [int(d) for d in _csv_list(args.deck)] if args.deck else None
    with stage(f"simulation ({args.model}, {args.seeds} seed(s), JuPedSim)"):
        result = simulate_plan(station, plan, scenarios=scen, decks=decks, model=args.model, seeds=args.seeds,
                               speed_sd=args.speed_sd, reaction_s=args.reaction_s, speed=args.speed,
                               workers=args.workers)
    for line in summary_lines(result):
        log(line)
    name = proposal_name(station, args.scenario_file).replace(f"{station.name}-", f"{station.name}-simulation-", 1)
    with staged_folder(Path(args.out), name) as folder:
        write_simulation(result, folder.path)
    print(f"simulation written to {folder.final}")
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from planner.sweep import run_sweep_command

    station = _load(args)
    if args.displaced:
        from planner.displacement import parse_shares, run_displacement_sweep

        folder = run_displacement_sweep(station, parse_shares(args.displaced), out_root=Path(args.out),
                                        scenario_name=args.scenario)
        print(f"displacement trade-off written to {folder}")
        return EXIT_OK
    budgets = _float_list(args.budgets) if args.budgets else None
    folder = run_sweep_command(station, budgets=budgets, budget_range=args.budget_range,
                               out_root=Path(args.out), scheduler=args.scheduler,
                               workers=args.workers, scenario_name=args.scenario,
                               time_limit_s=args.time_limit, cache_dir=_cache_dir(args))
    print(f"sweep written to {folder}")
    return EXIT_OK


def cmd_import_imdf(args: argparse.Namespace) -> int:
    from planner.imdf import import_imdf

    report = import_imdf(args.path, args.out, levels=_csv_list(args.levels) or None, building=args.building,
                         mapping=args.mapping, overwrite=args.force, infer=args.infer_doors)
    print(report)
    return EXIT_OK


def cmd_import_osm(args: argparse.Namespace) -> int:
    from planner.osm import import_osm

    report = import_osm(args.path, args.out, levels=_csv_list(args.levels) or None, building=args.building,
                        mapping=args.mapping, infer=args.infer_doors, overwrite=args.force)
    print(report)
    return EXIT_OK


def cmd_import_gis(args: argparse.Namespace) -> int:
    from planner.gis import import_gis

    report = import_gis(args.path, args.out, rooms_layer=args.rooms_layer, doors_layer=args.doors_layer,
                        mapping=args.mapping, levels=_csv_list(args.levels) or None, infer=args.infer_doors,
                        overwrite=args.force)
    print(report)
    return EXIT_OK


def cmd_doors_infer(args: argparse.Namespace) -> int:
    from planner.indoor import infer_station_doors

    res = infer_station_doors(args.station, dry_run=args.dry_run)
    print(res.summary)
    return EXIT_OK


def cmd_residents_fill(args: argparse.Namespace) -> int:
    from planner.residents import fill_residents

    table = fill_residents(args.station, per_m2=args.per_m2, seed=args.seed)
    cols = [c for c in table.columns if c not in ("room_id", "priority")]
    totals = ", ".join(f"{c}: {int(table[c].sum()):,}" for c in cols)
    print(f"wrote {args.station}/residents.csv ({totals})")
    return EXIT_OK


# ----------------------------------------------------------------------- parser
def _model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model options (override scenario.toml for this run)")
    g.add_argument("--objective", choices=["cover-all", "max-cover"])
    g.add_argument("--budget", type=float, help="conversion budget (currency)")
    g.add_argument("--backup", type=int, help="safe rooms each occupied room must have within reach (k)")
    g.add_argument("--backup-goal", type=int, metavar="K",
                   help="backup coverage as an objective: at the plan's cost (or coverage within the budget), "
                        "maximise the residents with K or more safe rooms within reach")
    g.add_argument("--time-limit", type=float, help="solver time limit (s)")
    g.add_argument("--gap", type=float, help="relative optimality gap to stop at (e.g. 0.01)")
    g.add_argument("--solver", choices=["highs", "cbc"])
    g.add_argument("--no-queue", action="store_true", help="ignore door queues (what-if only: unsafe)")
    g.add_argument("--reach-s", type=float, help="reach time (s)")
    g.add_argument("--speed", type=float, help="walking speed (m/s)")
    g.add_argument("--area-per-occupant", type=float, help="floor area per occupant (m2)")
    g.add_argument("--max-displaced", type=int, metavar="N",
                   help="at most N residents may be moved out of repurposed rooms (hard limit)")
    g.add_argument("--expected-share", type=float, metavar="SHARE",
                   help="least cost at which, with walking speeds N(walk_speed_m_s, walk_speed_sd_m_s), this share "
                        "of each scenario's residents is expected in a safe room in time (e.g. 0.995; cover-all; "
                        "0 = off; [model] expected_share_target)")
    g.add_argument("--protect", help="room ids never to convert, comma-separated")
    g.add_argument("--require", help="room ids that must be converted, comma-separated")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `planner` command."""
    ap = argparse.ArgumentParser(prog="planner", description="Safe-room planner: floor plans in, construction proposal out.")
    ap.add_argument("--version", action="version", version=f"planner {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show Python tracebacks on errors")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress lines")
    ap.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    sub = ap.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, **kw: Any) -> argparse.ArgumentParser:
        """A verb's parser; --debug and --quiet are accepted after the verb too."""
        return sub.add_parser(name, parents=[common], **kw)

    def station_cmd(name: str, help_: str) -> argparse.ArgumentParser:
        p = verb(name, help=help_, description=help_)
        p.add_argument("station", help="station folder, e.g. inputs/station-unity")
        p.add_argument("--scenario", help="scenario TOML (path, or name in the station folder)")
        return p

    p = station_cmd("validate", "load and validate a station, print a summary")
    p.set_defaults(func=cmd_validate)

    p = verb("generate", help="generate a ring station")
    p.add_argument("--rooms", type=int, required=True, help="number of rooms (about)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--decks", type=int, default=None)
    p.add_argument("--name", default=None)
    p.add_argument("--out", required=True, help="output station folder")
    p.set_defaults(func=cmd_generate)

    p = station_cmd("reach", "walking times from every room to every candidate safe room")
    p.add_argument("--out", help="write the reach table (.csv or .parquet)")
    p.add_argument("--no-cache", action="store_true", help="recompute even when cached")
    p.set_defaults(func=cmd_reach)

    p = station_cmd("solve", "choose the safe rooms and write plan.json")
    _model_options(p)
    p.add_argument("--out", required=True, help="folder for plan.json")
    p.add_argument("--backend", choices=["highspy", "pulp"], default="highspy",
                   help="highspy: arrays straight into HiGHS (default, fast); pulp: the PuLP model")
    p.add_argument("--pulp-solver", metavar="NAME",
                   help="with --backend pulp: a solver PuLP knows (highs, cbc, or a name of pulp.listSolvers())")
    p.set_defaults(func=cmd_solve)

    p = station_cmd("export-model", "write the station's optimisation model as an LP or MPS file (PuLP; the model solve optimises, "
                                    "without the relocation rows of repurposed rooms)")
    _model_options(p)
    p.add_argument("--format", choices=["lp", "mps"], default="mps", help="file format (default mps)")
    p.add_argument("--out", required=True, help="the file to write")
    p.set_defaults(func=cmd_export_model)

    p = verb("check", help="independently check a plan.json against the inputs",
             description="Check a plan.json against the station's own parameters (its scenario file plus "
                         "the options given here); every difference from the plan's parameters is a breach.")
    p.add_argument("station")
    p.add_argument("plan", help="plan.json")
    p.add_argument("--scenario", help="scenario TOML (path, or name in the station folder)")
    _model_options(p)
    p.set_defaults(func=cmd_check)

    p = station_cmd("propose", "the full construction proposal (workbook, map, plan)")
    _model_options(p)
    p.add_argument("--out", default="reports", help="reports folder (default reports/)")
    p.add_argument("--whatif-budgets", type=int, default=6, metavar="N",
                   help="budgets on the workbook's Budget what-if sheet (0 = none; default 6)")
    p.add_argument("--whatif-time-limit", type=float, default=10.0, metavar="S",
                   help="solver time limit per what-if budget (s, default 10)")
    p.add_argument("--verify", action="store_true",
                   help="simulation in the loop: replay the plan in JuPedSim, add measured margins where it is late, "
                        "plan again until every scenario meets --verify-target (docs/verification.md); exit 3 when "
                        "the target is not met (the proposal is written and says why)")
    p.add_argument("--verify-seeds", type=int, metavar="N", help="simulation runs per scenario, the worst counts "
                   "(default: [simulation] verify_seeds, 3)")
    p.add_argument("--verify-target", type=float, metavar="SHARE", help="share of each scenario's residents inside "
                   "their safe room within reach_s (default: [simulation] verify_target_share, 0.995)")
    p.add_argument("--verify-rounds", type=int, metavar="K", help="most plans simulated (default: [simulation] "
                   "verify_rounds, 3)")
    p.add_argument("--verify-safety-s", type=float, metavar="S", help="seconds added to every measured margin "
                   "(default: [simulation] verify_safety_s, 2)")
    p.add_argument("--speed-sd", type=float, default=0.0, metavar="X",
                   help="with --verify: standard deviation of the simulated walking speeds (m/s; default 0)")
    p.add_argument("--workers", type=int, default=2, help="with --verify: simulation processes (default 2)")
    p.set_defaults(func=cmd_propose)

    p = verb("brief", help="briefing material of a plan: door placards, interactive map, briefing sheet",
             description="Door placards (PDF, one page per occupied room, one file per deck), an offline "
                         "interactive map (one HTML file) and a one-page briefing sheet for a plan.json.")
    p.add_argument("station", help="station folder, e.g. inputs/station-unity")
    p.add_argument("plan", help="plan.json written by planner solve/propose")
    p.add_argument("--scenario", help="scenario TOML the plan was made with (path, or name in the station folder)")
    p.add_argument("--out", required=True, help="folder for the briefing files")
    p.add_argument("--lang", default="en", help="language of the text: a strings file planner/strings/<lang>.toml "
                                                "(en, de; default en)")
    p.add_argument("--paper", choices=["a4", "letter"], default="a4", help="paper size (default a4)")
    p.add_argument("--rooms", help="placards for these room ids only, comma-separated (default: every occupied room)")
    p.add_argument("--no-placards", action="store_true", help="only the map and the briefing sheet")
    p.add_argument("--simulation", help="simulation.json with arrival curves (default: beside the plan, when present)")
    p.set_defaults(func=cmd_brief)

    help_ = "replay a plan in the pedestrian simulator JuPedSim (optional extra 'sim')"
    p = verb("simulate", help=help_, description=help_)
    p.add_argument("station", help="station folder, e.g. inputs/station-unity")
    p.add_argument("plan", help="plan.json")
    p.add_argument("--scenario", metavar="S", help="occupancy scenario(s) to simulate, e.g. night; "
                   "comma-separated (default: every scenario of the plan)")
    p.add_argument("--scenario-file", metavar="TOML", help="scenario TOML (path, or name in the station folder; "
                   "default: the station's scenario.toml)")
    p.add_argument("--deck", metavar="D", help="only walkers whose route stays on these decks, comma-separated")
    p.add_argument("--model", choices=["cfsm", "sfm"], default="cfsm",
                   help="collision-free speed model (default) or social force model")
    p.add_argument("--seeds", type=int, default=3, help="runs per scenario; the worst is reported (default 3)")
    p.add_argument("--speed-sd", type=float, default=0.0, metavar="X",
                   help="standard deviation of the walking speed (m/s; default 0: everyone at --speed)")
    p.add_argument("--reaction-s", type=float, default=None, metavar="R",
                   help="seconds before everyone starts walking (default: the scenario's reaction_s)")
    p.add_argument("--speed", type=float, help="mean walking speed (m/s; default: the scenario's)")
    p.add_argument("--workers", type=int, default=2, help="processes for scenario x seed runs (default 2)")
    p.add_argument("--out", default="reports", help="reports folder (default reports/)")
    p.set_defaults(func=cmd_simulate)

    p = station_cmd("sweep", "budget-coverage curve over several budgets")
    _model_options(p)
    p.add_argument("--budgets", help="comma-separated budgets, e.g. 2e6,4e6,6e6")
    p.add_argument("--budget-range", help="LO:HI:STEPS")
    p.add_argument("--displaced", metavar="SHARES",
                   help="instead of budgets: least cost when at most these shares of today's displacement may be "
                        "moved, e.g. 0,0.25,0.5,1 (docs/model.md)")
    p.add_argument("--scheduler", help="dask scheduler address tcp://HOST:PORT (optional)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: cores)")
    p.add_argument("--out", default="reports")
    p.set_defaults(func=cmd_sweep)

    p = verb("import-imdf", help="convert an IMDF venue (folder or zip) to a station folder")
    p.add_argument("path")
    p.add_argument("--out", required=True)
    p.add_argument("--levels", help="levels to import, comma-separated: IMDF level ids, names or ordinals")
    p.add_argument("--building", help="building to import: IMDF building id or name")
    p.add_argument("--mapping", help="TOML category mapping")
    p.add_argument("--force", action="store_true", help="overwrite an existing output folder")
    p.add_argument("--infer-doors", action="store_true", help="invent the doors the data lacks (flagged inferred)")
    p.set_defaults(func=cmd_import_imdf)

    p = verb("import-osm", help="convert an OpenStreetMap indoor export (.osm XML or GeoJSON) to a station folder")
    p.add_argument("path")
    p.add_argument("--out", required=True)
    p.add_argument("--levels", help="OSM levels to import, comma-separated (e.g. 0,1)")
    p.add_argument("--building", help="building to import: its name or number in the report, or 'all' "
                                      "(default: the largest)")
    p.add_argument("--mapping", help="TOML kind mapping ([categories], [names], [units], [[rules]])")
    p.add_argument("--infer-doors", action="store_true", help="invent the doors the data lacks (flagged inferred)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output folder")
    p.set_defaults(func=cmd_import_osm)

    p = verb("import-gis", help="convert GIS or CAD layers (GeoPackage, Shapefile, GeoJSON, DXF) to a station folder")
    p.add_argument("path")
    p.add_argument("--out", required=True)
    p.add_argument("--rooms-layer", required=True, help="layer of the rooms (for DXF: the CAD layer name)")
    p.add_argument("--doors-layer", help="layer of the doors (lines or points), or a file of them; optional")
    p.add_argument("--mapping", required=True, help="TOML mapping: [fields] id, name, kind, level, residents; "
                                                    "[categories] kind values")
    p.add_argument("--levels", help="levels to import, comma-separated")
    p.add_argument("--infer-doors", action="store_true", help="invent the doors the data lacks (flagged inferred)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output folder")
    p.set_defaults(func=cmd_import_gis)

    p = verb("doors", help="door tables")
    ds = p.add_subparsers(dest="doors_verb", required=True)
    f = ds.add_parser("infer", help="invent the doors a station lacks (flagged inferred in doors.geojson)",
                      parents=[common])
    f.add_argument("station")
    f.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    f.set_defaults(func=cmd_doors_infer)

    p = verb("residents", help="resident tables")
    rs = p.add_subparsers(dest="residents_verb", required=True)
    f = rs.add_parser("fill", help="fill residents.csv with plausible counts by kind and area", parents=[common])
    f.add_argument("station")
    f.add_argument("--per-m2", type=float, default=None, help="persons per m2 of occupiable area")
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=cmd_residents_fill)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see planner.errors)."""
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        return int(exc.code or 0)
    if not args.quiet:
        enable_progress()  # stage lines and bars on standard error for people at a terminal
    old_handlers = install_signal_handlers()
    try:
        return _run(args)
    finally:
        restore_signal_handlers(old_handlers)


def _run(args: argparse.Namespace) -> int:
    """Run the verb; every error becomes its exit code and a message for people."""
    try:
        return int(args.func(args) or 0)
    except PlannerError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return EXIT_OK
    except KeyboardInterrupt as exc:  # SIGINT, and SIGTERM/SIGHUP through planner.files.Interrupted
        print("interrupted; nothing already written was changed", file=sys.stderr)
        return 128 + exc.signum if isinstance(exc, Interrupted) else 130
    except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n(run again with --debug for the traceback)",
              file=sys.stderr)
        return 70
    finally:
        disable_progress()


def entry() -> None:  # pragma: no cover
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
