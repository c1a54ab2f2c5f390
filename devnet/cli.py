"""`devnet`: bring a BSC stablecoin devnet up, drive it, measure it."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devnet import solidity, tools
from devnet.config import DevnetConfig, load_config
from devnet.core.env import DevnetEnv
from devnet.node.process import StartError
from devnet.profile import measured_block_period
from devnet.runtime.engine import DockerUnavailable
from devnet.runtime.images import ImageBuildError
from devnet.world import ENV_FILE, down, logs, node_running, status, up

app = typer.Typer(
    help="Local devnet and integration harness for sovereign stablecoins (KGST, USDKG) on BNB Smart Chain.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
)
tools_app = typer.Typer(
    help="Install and inspect the external tools (geth, bsc, anvil, solc-js).", no_args_is_help=True
)
contracts_app = typer.Typer(
    help="Compile the Solidity sources and check the committed artifacts.", no_args_is_help=True
)
images_app = typer.Typer(
    help="Build the docker runtime's images locally (no container registry needed).", no_args_is_help=True
)
app.add_typer(tools_app, name="tools")
app.add_typer(contracts_app, name="contracts")
app.add_typer(images_app, name="images")

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: ./devnet.toml if present)."),
]
StateOpt = Annotated[
    Path | None,
    typer.Option("--state-dir", help="Where env.json, node data and logs live (default: .devnet)."),
]


def _progress(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


def _config(config: Path | None, **overrides: object) -> DevnetConfig:
    try:
        return load_config(config, **overrides)
    except ValidationError as e:  # each error names its key (the model's own checks in the text)
        problems = []
        for err in e.errors():
            where, what = ".".join(map(str, err["loc"])), err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {what}" if where else what)
        raise _fail("bad configuration: " + "; ".join(problems)) from e
    except Exception as e:
        raise _fail(f"bad configuration: {e}") from e


def _start(cfg: DevnetConfig, state_dir: Path, **kwargs: Any) -> DevnetEnv:
    """`up` with the config's engine, contracts and runtime; a failure is one clear message."""
    kwargs.setdefault("runtime", cfg.runtime)
    kwargs.setdefault("profile", cfg.profile)
    try:
        return up(state_dir, cfg.engine, deploy_config=cfg.contracts, progress=_progress, **kwargs)
    except (StartError, tools.ToolMissing, DockerUnavailable, ImageBuildError, ValueError) as e:
        raise _fail(str(e)) from e


def _env(state_dir: Path) -> DevnetEnv:
    path = state_dir / ENV_FILE
    if not path.is_file():
        raise _fail(f"no devnet running here ({path} not found). Start one with `devnet up --detach`.")
    return DevnetEnv.load(path)


# ---- tools ------------------------------------------------------------------------------------


@tools_app.command("install")
def tools_install(
    skip_geth: Annotated[bool, typer.Option(help="Do not build geth.")] = False,
    skip_bsc: Annotated[bool, typer.Option(help="Do not build bsc (the BSC client).")] = False,
    skip_npm: Annotated[bool, typer.Option(help="Do not run npm ci.")] = False,
    force: Annotated[
        bool, typer.Option(help="Rebuild geth and bsc even if the pinned versions are there.")
    ] = False,
) -> None:
    """Install solc-js, OpenZeppelin and anvil (npm ci), build the pinned geth (go install) and
    the pinned bsc (go build in devnet/node/bsc/module)."""
    try:
        if not skip_npm:
            seconds = tools.install_npm_packages(_progress)
            _progress(f"npm packages installed in {seconds:.1f} s")
        builds = []
        if not skip_geth:
            builds.append(
                (
                    "geth",
                    tools.GETH_VERSION,
                    tools.installed_geth_version,
                    tools.geth_path,
                    tools.install_geth,
                )
            )
        if not skip_bsc:
            builds.append(
                ("bsc", tools.BSC_VERSION, tools.installed_bsc_version, tools.bsc_path, tools.install_bsc)
            )
        for name, version, installed, path, install in builds:
            if not force and installed() == version:
                _progress(f"{name} {version} already built at {path()}")
            else:
                _progress(f"{name} {version} built in {install(_progress):.1f} s")
    except tools.ToolMissing as e:
        raise _fail(str(e)) from e


@tools_app.command("check")
def tools_check() -> None:
    """Show where each tool is and which version it is."""
    table = Table("tool", "status", "path")
    for name, locate in (
        ("geth", tools.geth_path),
        ("bsc", tools.bsc_path),
        ("anvil", tools.anvil_path),
        ("solc-js", tools.solcjs_path),
    ):
        try:
            path = locate()
            versions = {"geth": tools.installed_geth_version, "bsc": tools.installed_bsc_version}
            status = (versions[name]() or "?") if name in versions else "ok"
            table.add_row(name, f"[green]{status}[/]", str(path))
        except tools.ToolMissing as e:
            table.add_row(name, "[red]missing[/]", str(e))
    console.print(table)


# ---- contracts --------------------------------------------------------------------------------


@contracts_app.command("build")
def contracts_build() -> None:
    """Compile contracts/src with solc-js and write contracts/artifacts."""
    _progress("compiling contracts/src with solc-js ...")
    try:
        artifacts = solidity.compile_sources()
    except (solidity.CompileError, tools.ToolMissing) as e:
        raise _fail(str(e)) from e
    for path in solidity.write_artifacts(artifacts):
        _progress(f"wrote {path}")


@contracts_app.command("check")
def contracts_check() -> None:
    """Fail if the committed artifacts differ from a fresh compile of the committed sources."""
    problems = solidity.diff_against_committed(solidity.compile_sources())
    if problems:
        for p in problems:
            err.print(f"[red]✗[/] {p}")
        raise _fail("artifacts are out of date: run `devnet contracts build` and commit them")
    console.print("[green]✓[/] artifacts match a fresh compile")


# ---- images (docker runtime) ------------------------------------------------------------------


@images_app.command("build")
def images_build(
    force: Annotated[bool, typer.Option(help="Rebuild even the images that are up to date.")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Build only these: base, geth, anvil, bsc, services (repeatable)."),
    ] = None,
) -> None:
    """Build the node images (geth, anvil, bsc) and the services image, without any registry.

    The base is Debian bookworm made with debootstrap (from apt's configured mirror) and
    `docker import`; the services image installs wheels built here with `pip wheel`, and no
    build step has network. The rootfs and wheels are cached in .tools/images, so rebuilds are
    offline. An image whose content label matches what it would be built from is skipped.
    Uses the engine DOCKER_HOST names, or the local one.
    """
    from devnet.runtime.engine import connect
    from devnet.runtime.images import BUILD_ORDER, build_images

    started = time.perf_counter()
    try:
        client = connect()
        results = build_images(client, only or BUILD_ORDER, force=force, progress=_progress)
    except (DockerUnavailable, ImageBuildError, tools.ToolMissing, ValueError) as e:
        raise _fail(str(e)) from e
    table = Table("image", "tag", "", "seconds", "size")
    table.columns[1].overflow = "fold"
    for r in results:
        table.add_row(
            r.name,
            r.tag,
            "built" if r.built else "up to date",
            f"{r.seconds:.1f}",
            f"{r.size_bytes / 1e6:.0f} MB",
        )
    console.print(table)
    _progress(f"images ready in {time.perf_counter() - started:.1f} s")


# ---- devnet lifecycle -------------------------------------------------------------------------


@app.command("up")
def up_command(
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            "-e",
            help="bsc (the BSC client itself: Parlia, fast finality, 450 ms blocks; default), geth "
            "(upstream geth with a BSC profile: blocks on demand, reorgs at any depth) or anvil "
            "(the fastest).",
        ),
    ] = None,
    network: Annotated[
        str | None, typer.Option(help="Chain id profile: rialto (714), chapel (97) or mainnet (56).")
    ] = None,
    block_period: Annotated[
        int | None,
        typer.Option(help="geth and anvil: seconds between blocks; 0 seals on demand (bsc: 450 ms, always)."),
    ] = None,
    validators: Annotated[
        int | None,
        typer.Option(
            help="bsc engine: how many validators seal the chain (1 to 6, one bsc process each; "
            "several take about a minute to start: see devnet/node/bsc/cluster.py)."
        ),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Return once ready and leave the devnet running.")
    ] = False,
    resume: Annotated[
        bool, typer.Option(help="Continue the previous chain instead of starting from genesis.")
    ] = False,
    chain_only: Annotated[
        bool, typer.Option("--chain-only", help="Node and contracts only; no services.")
    ] = False,
    runtime: Annotated[
        str | None,
        typer.Option(
            "--runtime",
            "-r",
            help="local (child processes, default) or docker (containers on one Docker network).",
        ),
    ] = None,
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Start the node, deploy KGST and USDKG, start the services, write .devnet/env.json.

    Services (bank, custodian, issuer, exchange) start in dependency order; a service given a
    URL in the config is used as it is, one with `enabled = false` is left out. With
    `--runtime docker` every component is a container (images built first if missing).
    """
    cfg = _config(
        config,
        engine=engine,
        state_dir=state_dir,
        runtime=runtime,
        **{
            "profile.network": network,
            "profile.block_period_s": block_period,
            "profile.bsc_validators": validators,
        },
    )
    if validators is not None and cfg.engine != "bsc":
        raise _fail(f"--validators is for the bsc engine (this devnet's engine is {cfg.engine})")
    running = cfg.state_dir / ENV_FILE
    if running.is_file() and node_running(DevnetEnv.load(running)):
        raise _fail(f"a devnet is already running from {cfg.state_dir}; `devnet down` first")
    started = time.perf_counter()
    env = _start(cfg, cfg.state_dir, resume=resume, services=None if chain_only else cfg.wanted_services())
    _progress(f"[green]ready[/] in {time.perf_counter() - started:.1f} s")
    _print_env(env)
    if detach:
        console.print("Stop it with [bold]devnet down[/].")
        return
    console.print("Press Ctrl-C to stop.")
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and _node_up(cfg.state_dir, env):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    env = _current_env(cfg.state_dir, env)
    if not stop and not node_running(env):
        err.print(f"[red]the node exited[/]; last lines of its log:\n{logs(env, 'node', 30)}")
    down(cfg.state_dir)
    _progress("stopped")


def _current_env(state_dir: Path, env: DevnetEnv) -> DevnetEnv:
    """env.json as it is now: a restart (`devnet chaos`) records the node's new pid there."""
    path = state_dir / ENV_FILE
    try:
        return DevnetEnv.load(path)
    except (OSError, ValueError):
        return env


def _node_up(state_dir: Path, env: DevnetEnv) -> bool:
    """The node runs, or a chaos run killed it and is restarting it."""
    from devnet.chaos import chaos_running

    return node_running(_current_env(state_dir, env)) or chaos_running(state_dir)


@app.command("down")
def down_command(state_dir: StateOpt = None, config: ConfigOpt = None) -> None:
    """Stop the devnet started with `devnet up --detach`."""
    cfg = _config(config, state_dir=state_dir)
    try:
        stopped = down(cfg.state_dir)
    except DockerUnavailable as e:
        raise _fail(f"this devnet runs on docker: {e}") from e
    if stopped:
        _progress("devnet stopped")
    else:
        _progress("no devnet was running")


@app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Show the running devnet: node, chain, contracts."""
    cfg = _config(config, state_dir=state_dir)
    env = _env(cfg.state_dir)
    node, *services = status(env)
    head = None
    if node.running and node.check.ok:
        from devnet.core.chain import Chain

        head = Chain(env.rpc_url, chain_id=env.chain_id, gas_price=env.gas_price_wei).block_number()
    if as_json:
        report = {s.name: {"url": s.url, "healthy": s.check.ok} for s in services}
        console.print_json(
            json.dumps({"running": node.running, "head": head, "services": report, **env.summary()})
        )
        return
    if not node.running:
        state = "[red]not running[/]"
    elif not node.check.ok:
        state = f"[red]running, not answering[/] ({escape(node.check.answer)})"
    else:
        state = "[green]running[/]"
    head_text = f", head block {head}" if head is not None else ""
    console.print(f"node: {env.node.engine} {node.where} {state}{head_text}")
    for s in services:
        if s.check.ok:
            health = "[green]healthy[/]"
        elif s.running is False:
            health = "[red]not running[/]"
        else:
            health = f"[red]not answering[/] ({escape(s.check.answer)})"
        console.print(f"{s.name}: {s.url} {s.where} {health}")
    _print_env(env)
    if not node.running or not node.check.ok or not all(s.check.ok for s in services):
        raise typer.Exit(1)


def _node_control(env: DevnetEnv) -> Any:
    from devnet.core.rpc import Rpc
    from harness.node_control import NodeControl

    if not node_running(env):
        raise _fail("the devnet's node is not running; `devnet up` first")
    return NodeControl(Rpc(env.rpc_url), env.node.engine)


@app.command("mine")
def mine_command(
    blocks: Annotated[int, typer.Argument(min=1, max=10_000, help="How many blocks.")] = 1,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Seal blocks now (confirmations for a deposit, say); prints head, safe and finalized."""
    cfg = _config(config, state_dir=state_dir)
    control = _node_control(_env(cfg.state_dir))
    control.mine(blocks)
    f = control.finality()
    console.print(f"head {f.head}, safe {f.safe}, finalized {f.finalized}")


@app.command("reorg")
def reorg_command(
    depth: Annotated[int, typer.Argument(min=1, help="How many blocks the competing branch replaces.")],
    keep: Annotated[
        str,
        typer.Option(
            help="Transactions of the replaced blocks to include again: none, all, or hashes (a,b)."
        ),
    ] = "none",
    extra_blocks: Annotated[int, typer.Option(min=0, help="Make the new branch this much longer.")] = 0,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Replace the last DEPTH blocks by a competing branch (fork choice on geth, anvil_reorg on
    anvil). geth refuses to replace a finalized block, as BSC's fast finality does."""
    from devnet.core.rpc import RpcError

    cfg = _config(config, state_dir=state_dir)
    control = _node_control(_env(cfg.state_dir))
    kept: Any = keep if keep in ("none", "all") else [h.strip() for h in keep.split(",") if h.strip()]
    try:
        reorg = control.reorg(depth, kept, extra_blocks)
    except RpcError as e:
        raise _fail(f"reorg refused: {e.message}") from e
    console.print(f"reorg of depth {reorg.depth} on block {reorg.ancestor} ({reorg.ancestor_hash})")
    for old, new in zip(reorg.replaced, reorg.blocks, strict=False):
        console.print(f"  {old} -> {new}")
    for extra in reorg.blocks[len(reorg.replaced) :]:
        console.print(f"  {'(new)':<66} -> {extra}")
    console.print(f"dropped transactions: {', '.join(reorg.dropped) or 'none'}")
    console.print(f"included again: {', '.join(reorg.included) or 'none'}")


fault_app = typer.Typer(
    help="Finality faults on real Parlia: a bsc chain of several validators "
    "(`devnet up --engine bsc --validators 3`). Each waits until the validators have taken it "
    "and prints them, with the head and the finalized block.",
    no_args_is_help=True,
)
app.add_typer(fault_app, name="fault")


def _cluster(state_dir: Path | None, config: Path | None) -> Any:
    from devnet.node.bsc.faults import BscCluster

    cfg = _config(config, state_dir=state_dir)
    env = _env(cfg.state_dir)
    if env.node.engine != "bsc" or not env.node.datadir:
        raise _fail(
            f"faults need the bsc engine (this devnet runs {env.node.engine}): "
            "`devnet up --engine bsc --validators 3`"
        )
    if env.runtime == "docker":
        raise _fail("faults need the local runtime: the validators' cluster runs in the node container")
    if not node_running(env):
        raise _fail("the devnet's node is not running; `devnet up` first")
    return BscCluster(Path(env.node.datadir), progress=_progress)


def _fault(state_dir: Path | None, config: Path | None, act: Callable[[Any], Any]) -> Any:
    from devnet.core.rpc import Rpc
    from devnet.node.bsc.faults import ClusterStatus, FaultError
    from harness.node_control import NodeControl

    cluster = _cluster(state_dir, config)
    try:
        outcome = act(cluster)
    except FaultError as e:
        raise _fail(str(e)) from e
    status: ClusterStatus = outcome if isinstance(outcome, ClusterStatus) else outcome.status
    table = Table("validator", "address", "running", "voting", "peers", "head")
    for v in status.validators:
        table.add_row(
            str(v.index),
            v.address,
            "yes" if v.running else "[red]no[/]",
            "yes" if v.voting else "[yellow]no[/]",
            ",".join(map(str, v.peers)) or "-",
            "-" if v.head is None else str(v.head),
        )
    console.print(table)
    voters, quorum = len(status.voters()), status.quorum()
    f = NodeControl(Rpc(status.validators[0].url), "bsc").finality()
    verdict = "finality goes on" if voters >= quorum else "[yellow]finality stalls[/]"
    console.print(f"{voters} of {len(status.validators)} validators vote, quorum {quorum}: {verdict}")
    console.print(f"head {f.head}, safe {f.safe}, finalized {f.finalized}")
    return outcome


def _validators(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as e:
        raise _fail(f"bad validator list {text!r}: use indices such as 1 or 1,2") from e


@fault_app.command("votes-off")
def fault_votes_off(
    validators: Annotated[
        str | None,
        typer.Option(help="Which stop voting (e.g. 1,2); default: all but validator 0, below any quorum."),
    ] = None,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Validators stop voting (restarted without --vote): blocks go on, `finalized` stalls."""
    chosen = None if validators is None else _validators(validators)
    _fault(state_dir, config, lambda c: c.votes_off(chosen))


@fault_app.command("votes-on")
def fault_votes_on(state_dir: StateOpt = None, config: ConfigOpt = None) -> None:
    """Every validator votes again: `finalized` catches up with the head."""
    _fault(state_dir, config, lambda c: c.votes_on())


@fault_app.command("validator-down")
def fault_validator_down(
    validator: Annotated[int, typer.Argument(min=1, help="Which validator (1 and up: 0 serves JSON-RPC).")],
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Stop a validator: the others take its turns after Parlia's out-of-turn delay."""
    _fault(state_dir, config, lambda c: c.validator_down(validator))


@fault_app.command("validator-up")
def fault_validator_up(
    validator: Annotated[
        int | None, typer.Argument(help="Which validator (default: every stopped one).")
    ] = None,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Start a stopped validator again: it syncs, then seals and votes."""
    _fault(state_dir, config, lambda c: c.validator_up(validator))


@fault_app.command("partition")
def fault_partition(
    side: Annotated[str, typer.Argument(help="The validators cut off from the rest, e.g. 0 or 1,2.")],
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Split the validators in two groups that do not peer.

    A minority seals a block or two and stalls (Parlia's recent-signer rule); a majority goes on
    and, with two thirds of the votes, finalizes."""
    chosen = _validators(side)
    _fault(state_dir, config, lambda c: c.partition(chosen))


@fault_app.command("heal")
def fault_heal(state_dir: StateOpt = None, config: ConfigOpt = None) -> None:
    """Join the groups again and print the reorg it makes.

    The reorg: the blocks of validator 0 (the devnet's JSON-RPC) that the others' chain
    replaced."""
    healed = _fault(state_dir, config, lambda c: c.heal())
    console.print(f"reorg at the devnet's JSON-RPC: {healed.depth} block(s) replaced")
    for block in healed.replaced:
        console.print(f"  {block.number}: {block.old} -> {block.new}")


@app.command("logs")
def logs_command(
    component: Annotated[str, typer.Argument(help="node, bank, custodian, issuer or exchange.")] = "node",
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines.")] = 50,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Print the last lines of a component's log (`docker logs` on the docker runtime)."""
    cfg = _config(config, state_dir=state_dir)
    env = _env(cfg.state_dir)
    known = ["node", *(name for name, c in env.components.items() if c.log_path or c.container)]
    if component == env.node.engine:
        component = "node"
    if component not in known:
        raise _fail(f"no log for {component!r}; this devnet has logs for: {', '.join(sorted(known))}")
    try:
        text = logs(env, component, lines)
    except DockerUnavailable as e:
        raise _fail(str(e)) from e
    console.print(text, markup=False, highlight=False)


def _print_env(env: DevnetEnv) -> None:
    table = Table("", "", show_header=False, box=None)
    table.add_row("chain id", str(env.chain_id))
    table.add_row("rpc", env.rpc_url)
    for name, url in env.services.items():
        table.add_row(name, url)
    for name, address in env.contracts.items():
        table.add_row(name, address)
    console.print(table)


# ---- driving and measuring --------------------------------------------------------------------


@app.command("demo")
def demo_command(
    engine: Annotated[
        str | None, typer.Option("--engine", "-e", help="Engine for a devnet started just for the demo.")
    ] = None,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One KGST remittance cycle: bank credit -> mint -> remittance -> redeem -> payout.

    Uses the running devnet, or starts one for the demo and stops it afterwards.
    """
    from devnet.demo import run_demo
    from harness.flows import FlowError

    cfg = _config(config, engine=engine, state_dir=state_dir)
    env_file = cfg.state_dir / ENV_FILE
    temporary = not env_file.is_file()
    if temporary:
        _progress("no devnet running: starting one for the demo")
        env = _start(cfg, cfg.state_dir, services={"bank": None, "custodian": None, "issuer": None})
    else:
        env = DevnetEnv.load(env_file)
    console.print("[bold]KGST remittance: a migrant worker in Moscow pays the family in Bishkek[/]")
    try:
        trace = run_demo(env, progress=_progress)
    except FlowError as e:
        raise _fail(str(e)) from e
    finally:
        if temporary:
            down(cfg.state_dir)
    for i, s in enumerate(trace.steps, 1):
        ref = (
            f"tx {s.tx_hash}" + (f" (block {s.block})" if s.block is not None else "")
            if s.tx_hash
            else f"bank payment {s.bank_ref}"
        )
        console.print(f"{i}. [bold]{s.name:<18}[/] {s.seconds * 1000:7.0f} ms   {ref}", soft_wrap=True)
        console.print(f"   [dim]{s.detail}[/]", soft_wrap=True)
    console.print(f"whole cycle: {trace.seconds:.2f} s")


@app.command("flood")
def flood_command(
    transactions: Annotated[int, typer.Option("--txs", help="Transfers to flood.")] = 20_000,
    senders: Annotated[int, typer.Option(help="Distinct sending accounts.")] = 100,
    engine: Annotated[str | None, typer.Option("--engine", "-e", help="geth, anvil or bsc.")] = None,
    block_period: Annotated[
        int | None,
        typer.Option(help="geth and anvil: block period of the node started for the flood (default 1 s)."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--json", help="Also write the result as JSON here.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Raw ceiling: flood pre-signed KGST transfers into a fresh node and report included tx/s."""
    import tempfile

    from devnet.core.accounts import ROLE_LAYOUT, derive_account, derive_accounts
    from devnet.core.chain import Chain
    from devnet.core.tokens import StableCoinClient
    from devnet.core.wallets import Wallet, WalletPool
    from harness.flood import flood, fund_senders

    cfg = _config(config, engine=engine, **{"profile.block_period_s": block_period})
    profile = cfg.profile.model_copy(
        update={
            "prefunded_accounts": max(cfg.profile.prefunded_accounts, ROLE_LAYOUT.first_free + senders),
            "block_period_s": measured_block_period(cfg.engine, block_period),
        }
    )
    per_sender = -(-transactions // senders)
    with tempfile.TemporaryDirectory(prefix="devnet-flood-") as tmp:
        env = _start(cfg, Path(tmp), profile=profile, runtime="local")
        try:
            chain = Chain(env.rpc_url, gas_price=env.gas_price_wei, chain_id=env.chain_id)
            kgst = StableCoinClient(chain, env.deployment.token("KGST"))
            pool = WalletPool(derive_accounts(env.mnemonic, ROLE_LAYOUT.first_free, senders))
            _progress(f"funding {senders} senders with KGST ...")
            fund_senders(
                kgst,
                Wallet.of(derive_account(env.mnemonic, ROLE_LAYOUT.reporter)),
                Wallet.of(derive_account(env.mnemonic, ROLE_LAYOUT.first_minter)),
                pool,
                kgst.units(1_000_000),
            )
            _progress(
                f"flooding {per_sender * senders} transfers from {senders} senders "
                f"({cfg.engine}, {profile.blocks_text(cfg.engine)}) ..."
            )
            result = flood(kgst, pool, per_sender, progress=_progress)
        finally:
            down(Path(tmp))
    table = Table("measure", "value", title=f"raw ceiling on {cfg.engine}")
    for key in (
        "transactions",
        "senders",
        "blocks",
        "gas_per_transfer",
        "sign_seconds",
        "submit_seconds",
        "total_seconds",
        "overall_tx_per_s",
        "steady_tx_per_s",
        "steady_mgas_per_s",
        "accepting_seconds",
        "waited_seconds",
        "block_interval_s",
        "tx_per_block",
    ):
        table.add_row(key, f"{getattr(result, key):,}")
    table.add_row("limited by", result.limited_by)
    console.print(table)
    if output:
        output.write_text(
            json.dumps(
                {"engine": cfg.engine, "block_period_s": profile.block_period_s, **result.as_dict()},
                indent=2,
            )
        )
        _progress(f"wrote {output}")


# ---- listing conformance --------------------------------------------------------------------

listing_app = typer.Typer(
    help="Listing conformance: the exchange's automated review of a token.", no_args_is_help=True
)
app.add_typer(listing_app, name="listing")


@listing_app.command("check")
def listing_check(
    token: Annotated[str, typer.Option("--token", "-t", help="KGST, USDKG, or a token address.")],
    out: Annotated[Path, typer.Option(help="Folder for the JSON and HTML reports.")] = Path(
        "listing-reports"
    ),
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Review a token as an exchange would; prints pass/fail per check, writes JSON and HTML.

    Exits 1 when the token does not pass.
    """
    from devnet.core.http import ApiError
    from harness.connect import Devnet
    from harness.listing import render_html, review

    cfg = _config(config, state_dir=state_dir)
    devnet = Devnet(_env(cfg.state_dir))
    try:
        result = review(devnet, token)
    except (ValueError, ApiError) as e:
        raise _fail(str(e)) from e
    finally:
        devnet.close()
    table = Table("check", "result", "detail", title=f"listing review of {token} ({result.token_address})")
    for c in result.checks:
        table.add_row(c.name, "[green]pass[/]" if c.passed else "[red]FAIL[/]", c.detail)
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"listing-{token.lower()}"
    stem.with_suffix(".json").write_text(json.dumps(result.model_dump(mode="json"), indent=2) + "\n")
    stem.with_suffix(".html").write_text(render_html(result, token))
    _progress(f"wrote {stem}.json and {stem}.html")
    if not result.passed:
        raise typer.Exit(1)


# ---- load and benchmark -----------------------------------------------------------------------


@app.command("load")
def load_command(
    users: Annotated[
        int | None,
        typer.Option(
            help="Peak Locust users (default 20). With --rate: the most flows in flight "
            "(default 20 x rate, at most the devnet's wallet lanes)."
        ),
    ] = None,
    spawn_rate: Annotated[float, typer.Option(help="Users started per second.")] = 5.0,
    duration: Annotated[
        str, typer.Option(help="How long to load, in Locust's format: 20s, 5m, 1m30s.")
    ] = "60s",
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            help="Open model: offer this many flows per second whatever their latency "
            "(offered vs started vs completed in the summary). Default: closed model.",
        ),
    ] = None,
    shape: Annotated[
        str | None, typer.Option(help="step, spike or day (a remittance day); default: flat.")
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option(
            help="User class (repeatable): RemittanceUser, RawTransferUser, MintOnlyUser, RedeemOnlyUser."
        ),
    ] = None,
    processes: Annotated[int, typer.Option(help="Locust worker processes (Locust's --processes).")] = 1,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<time>).")] = None,
    kill: KillOpt = None,
    every: EveryOpt = "5-15s",
    seed: SeedOpt = None,
    webhook_loss: WebhookLossOpt = 0.0,
    bank_5xx: Bank5xxOpt = 0.0,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            help="Pass/fail criterion (repeatable), k6-style: flow.p95<5000, failures<1%, flows_per_s>40, "
            "cpu_ms_per_flow<25, '<step>.p95<ms'. A failed one exits 99."
        ),
    ] = None,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Headless Locust against the running devnet; writes a run folder with a
    summary page.

    Every run is costed: CPU seconds per completed flow and peak memory of each
    process (node, consensus side, each service, Locust), and the bottleneck
    (the process nearest to a full core, the step whose latency grew first).

    Exit codes: 0 all well; 1 flows failed (without --threshold), money does
    not reconcile, or Locust failed; 99 a --threshold failed (as k6).

    With --kill (and/or --webhook-loss, --bank-5xx) the run is a chaos run
    too, for its whole duration, as `devnet chaos` does: the summary adds the
    kills, the time to healthy after each and the flows that failed, and its
    reconciliation says whether money was lost or duplicated.
    """
    from devnet.chaos import ChaosError, parse_duration
    from loadtests.run import open_model_users, run_load
    from loadtests.thresholds import THRESHOLDS_FAILED, ThresholdError, parse_all

    try:
        seconds = round(parse_duration(duration))
        gates = parse_all(threshold or [])
    except (ChaosError, ThresholdError) as e:
        raise _fail(str(e)) from e
    cfg = _config(config, state_dir=state_dir)
    env = _env(cfg.state_dir)  # fails clearly when nothing runs
    if shape not in (None, "step", "spike", "day"):
        raise _fail("--shape: choose step, spike or day")
    if rate and shape:
        raise _fail("--rate and --shape: choose one (a shape sets users, --rate sets arrivals)")
    if rate:
        users = users or open_model_users(env, rate)
        spawn_rate = rate  # the users' starts, and so their flows, interleave at the rate
    users = users or 20
    plan = None
    if kill or webhook_loss or bank_5xx:
        plan = _chaos_plan(env, float(seconds), kill, every, seed, webhook_loss, bank_5xx)
    run_dir = out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    try:
        summary = run_load(
            (cfg.state_dir / ENV_FILE).resolve(),
            run_dir,
            users=users,
            spawn_rate=spawn_rate,
            duration_s=seconds,
            user_classes=user or ["RemittanceUser"],
            shape=shape,
            processes=processes,
            progress=_progress,
            chaos=plan,
            thresholds=gates,
            rate=rate,
        )
    except ChaosError as e:
        raise _fail(str(e)) from e
    table = Table(
        "step", "requests", "failures", "per s", "p50 ms", "p95 ms", "p99 ms", title=f"load run {run_dir}"
    )
    for r in summary["steps"]:
        table.add_row(
            r["name"],
            str(r["requests"]),
            str(r["failures"]),
            str(r["per_s"]),
            str(r["p50"]),
            str(r["p95"]),
            str(r["p99"]),
        )
    console.print(table)
    rec = summary.get("reconciliation")
    reconciled = "clean" if not rec or rec["ok"] else "[red]VIOLATED[/]"
    opened = summary.get("open_model")
    if opened:
        console.print(
            f"open model: {opened['offered_flows_per_s']:g} flows/s offered ({opened['offered']}), "
            f"{opened['started']} started ({opened['started_flows_per_s']}/s), {opened['dropped']} dropped, "
            f"{opened['completed']} completed ({opened['completed_flows_per_s']}/s)",
            highlight=False,
        )
    console.print(
        f"flows/s {summary['flows_per_s']}, included tx/s {summary['chain']['included_tx_per_s']}, "
        f"Mgas/s {summary['chain']['mgas_per_s']}, reconciliation {reconciled}"
    )
    _print_costs(summary["costs"])
    for verdict in summary["thresholds"]:
        mark = "[green]✓[/]" if verdict["ok"] else "[red]✗[/]"
        actual = "no value" if verdict["actual"] is None else f"{verdict['actual']:g}"
        console.print(f"{mark} {verdict['expression']}  (run: {actual})", highlight=False)
    chaos = summary.get("chaos")
    if chaos:
        from devnet.chaos import ChaosReport

        console.print(ChaosReport.model_validate(chaos).text(), markup=False, highlight=False)
    _progress(f"report: {run_dir / 'summary.html'}")
    if (rec and not rec["ok"]) or summary["locust_exit_code"] not in (0, 1):
        raise typer.Exit(1)
    if chaos:  # flows are expected to fail while components are down: money and restarts decide
        if not ChaosReport.model_validate(chaos).ok:
            raise typer.Exit(1)
    elif not gates and sum(r["failures"] for r in summary["steps"]):
        raise typer.Exit(1)
    if not all(v["ok"] for v in summary["thresholds"]):
        raise typer.Exit(THRESHOLDS_FAILED)


def _print_costs(costs: dict[str, Any]) -> None:
    """Each process's CPU per flow, share of a core and peak memory; then the bottleneck."""
    table = Table("process", "CPU s", "ms per flow", "core share", "peak core", "peak RSS MiB", title="cost")
    for p in costs["processes"]:
        name = f"{p['name']} (load generator)" if p["load_generator"] else p["name"]
        per_flow = "-" if p["cpu_ms_per_flow"] is None else str(p["cpu_ms_per_flow"])
        table.add_row(
            name,
            str(p["cpu_s"]),
            per_flow,
            f"{p['core_share']:.0%}",
            f"{p['peak_core_share']:.0%}",
            str(p["peak_rss_mib"]),
        )
    console.print(table)
    console.print(
        f"CPU per flow: {costs['cpu_ms_per_flow']} ms in all, {costs['system_cpu_ms_per_flow']} ms in the "
        f"system under test; bottleneck: {costs['verdict']}",
        highlight=False,
    )


# ---- chaos ----------------------------------------------------------------------------------

CHAOS = "Chaos"
KillOpt = Annotated[
    str | None,
    typer.Option(
        "--kill",
        help="Components to SIGKILL and restart, comma-separated: node, bank, custodian, issuer, exchange.",
        rich_help_panel=CHAOS,
    ),
]
EveryOpt = Annotated[
    str,
    typer.Option(
        help="Time between kills, drawn in a range (5-15s) or fixed (10s); Locust's format.",
        rich_help_panel=CHAOS,
    ),
]
SeedOpt = Annotated[
    int | None,
    typer.Option(
        help="Seed of the kill schedule and the faults; the same seed, the same schedule. "
        "Default: a random one, printed.",
        rich_help_panel=CHAOS,
    ),
]
WebhookLossOpt = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Share of webhook deliveries lost, 0..1 (every service; senders retry).",
        rich_help_panel=CHAOS,
    ),
]
Bank5xxOpt = Annotated[
    float,
    typer.Option(
        "--bank-5xx",
        min=0.0,
        max=1.0,
        help="Share of the bank's answers that are 503, 0..1.",
        rich_help_panel=CHAOS,
    ),
]


def _chaos_plan(
    env: DevnetEnv,
    duration_s: float,
    kill: str | None,
    every: str,
    seed: int | None,
    webhook_loss: float,
    bank_5xx: float,
) -> Any:
    """A validated ChaosPlan; bad input is one clear error."""
    import random

    from pydantic import ValidationError

    from devnet.chaos import ChaosError, ChaosPlan, parse_every, validate

    try:
        plan = ChaosPlan(
            duration_s=duration_s,
            every_s=parse_every(every),
            kill=[c.strip() for c in (kill or "").split(",") if c.strip()],
            seed=random.randrange(1_000_000) if seed is None else seed,
            webhook_loss=webhook_loss,
            bank_5xx=bank_5xx,
        )
        validate(plan, env)
    except ChaosError as e:
        raise _fail(str(e)) from e
    except ValidationError as e:
        raise _fail(f"bad chaos plan: {e.errors()[0]['msg']}") from e
    return plan


@app.command("chaos")
def chaos_command(
    duration: Annotated[
        str, typer.Option(help="How long to keep killing, in Locust's format: 20s, 5m, 1m30s.")
    ] = "2m",
    kill: KillOpt = None,
    every: EveryOpt = "5-15s",
    seed: SeedOpt = None,
    webhook_loss: WebhookLossOpt = 0.0,
    bank_5xx: Bank5xxOpt = 0.0,
    settle: Annotated[
        str,
        typer.Option(help="How long in-flight work may take to settle before the reconciliation counts it."),
    ] = "2m",
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
    state_dir: StateOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Crash components of the running devnet at random moments, restart them,
    and check the money.

    Each kill is a SIGKILL (the node: its consensus side and geth at once;
    docker: `docker kill`), followed at once by a restart as a supervisor
    would do it (same command, environment and port; docker: the same
    container) and a wait until the component answers again. Run it beside
    your own traffic, or use `devnet load --kill ...` for load, chaos and one
    report together. At the end the faults are cleared, the world is
    reconciled, and the report gives kills per component, time to healthy
    (p50, max) and any money lost or duplicated.

    Exits 1 when money was lost or duplicated, or a component did not come back.
    """
    from devnet.chaos import ChaosError, parse_duration, run_chaos

    cfg = _config(config, state_dir=state_dir)
    env = _env(cfg.state_dir)
    try:
        seconds, settle_s = parse_duration(duration), parse_duration(settle)
    except ChaosError as e:
        raise _fail(str(e)) from e
    plan = _chaos_plan(env, seconds, kill, every, seed, webhook_loss, bank_5xx)
    try:
        report = run_chaos(cfg.state_dir, plan, progress=_progress, settle_timeout=settle_s)
    except ChaosError as e:
        raise _fail(str(e)) from e
    console.print(report.text(), markup=False, highlight=False)
    if json_file:
        json_file.write_text(report.model_dump_json(indent=2) + "\n")
        _progress(f"wrote {json_file}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("bench")
def bench_command(
    engine: Annotated[str | None, typer.Option("--engine", "-e", help="geth, anvil or bsc.")] = None,
    users: Annotated[int, typer.Option(help="RemittanceUsers driving flows.")] = 30,
    duration: Annotated[str, typer.Option(help="How long the flows run: 20s, 5m (Locust's format).")] = "60s",
    block_period: Annotated[
        int | None,
        typer.Option(help="geth and anvil: block period of the node started for the bench (default 1 s)."),
    ] = None,
    flood_txs: Annotated[int, typer.Option(help="Pre-signed transfers for the raw ceiling.")] = 20_000,
    sweep: Annotated[
        str | None,
        typer.Option(
            help="Find the knee first: open-model runs of --duration each at these offered flows/s "
            "(comma-separated, e.g. 1,2,4,8; 'auto': 1, 2, 4, ... up to 128) until completed < 90% "
            "of offered or flow p95 doubles. Writes sweep/sweep.html."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/bench-<time>).")] = None,
    config: ConfigOpt = None,
) -> None:
    """End-to-end flows/s through every service vs the node's raw ceiling, on one fresh node."""
    from devnet.chaos import ChaosError, parse_duration
    from loadtests.bench import run_bench, sweep_rates

    try:
        seconds = round(parse_duration(duration))
    except ChaosError as e:
        raise _fail(str(e)) from e
    rates: list[float] | None = None
    if sweep:
        try:
            rates = sweep_rates(1, 8) if sweep == "auto" else [float(r) for r in sweep.split(",")]
        except ValueError:
            raise _fail(f"--sweep {sweep!r}: give rates like 1,2,4,8 or 'auto'") from None
        if not rates or any(r <= 0 for r in rates):
            raise _fail(f"--sweep {sweep!r}: rates must be above 0")
    cfg = _config(config, engine=engine, **{"profile.block_period_s": block_period})
    run_dir = out or Path("runs") / time.strftime("bench-%Y%m%d-%H%M%S")
    r = run_bench(
        cfg.engine,
        run_dir,
        users=users,
        duration_s=seconds,
        block_period_s=block_period,
        flood_txs=flood_txs,
        progress=_progress,
        sweep=rates,
    )
    table = Table("measure", "value", title=f"bench on {cfg.engine}, {r['blocks']}")
    for key in (
        "flows_per_s",
        "gas_per_flow",
        "ceiling_tx_per_s",
        "ceiling_mgas_per_s",
        "ceiling_flows_per_s",
        "ceiling_limited_by",
        "ratio_to_ceiling",
        "bsc_mainnet_flows_per_s",
        "ratio_to_bsc_mainnet",
        "cpu_ms_per_flow",
        "system_cpu_ms_per_flow",
        "bottleneck",
        "reconciliation_ok",
    ):
        table.add_row(key, str(r[key]))
    for process, ms in r["cpu_ms_per_flow_by_process"].items():
        table.add_row(f"CPU ms per flow: {process}", str(ms))
    if r["sweep"]:
        for p in r["sweep"]["points"]:
            table.add_row(
                f"sweep {p['offered_flows_per_s']:g}/s offered",
                f"{p['flows_per_s']}/s done, p95 {p['p95_ms']} ms, {p['cpu_ms_per_flow']} ms CPU/flow",
            )
        knee = r["sweep"]["knee_flows_per_s"]
        sustained = "-" if knee is None else f"{knee:g}"
        table.add_row("knee (flows/s sustained)", f"{sustained}: {r['sweep']['knee_reason']}")
        if knee is not None:
            table.add_row("knee / ceiling", f"{r['knee_ratio_to_ceiling']:.1%}")
            table.add_row("knee: CPU ms per flow", str(r["knee_cpu_ms_per_flow"]))
    for step, ms in r["step_p50_ms"].items():
        table.add_row(f"p50 {step} (ms)", str(ms))
    console.print(table)
    _progress(f"wrote {run_dir / 'bench.json'}; flows report: {run_dir / 'flows' / 'summary.html'}")


if __name__ == "__main__":
    app()
