"""The ``systemctl`` a lab node offers, run as a script on the host.

Shipped by ``systemctl_shim`` after the supervisor wire's source (so
``exchange`` is defined) with the node's socket written into ``SOCKET``;
stdlib only. Verbs map to supervisor ops; units are its components;
exit codes are systemctl's (3: not running, 5: no such unit).
"""

import json
import signal
import sys
from typing import Any

try:
    from gauntlet.nodes.supervisor_wire import exchange
except ImportError:  # a script on a host: the wire's source came first
    pass

SOCKET = ""
NOT_RUNNING = 3
NO_UNIT = 5
NO_OPS = ("daemon-reload", "enable", "disable", "reset-failed", "mask")


def _unit(name: str) -> str:
    return name.removesuffix(".service")


def _call(op: str, **fields: Any) -> Any:
    return exchange(SOCKET, json.dumps({"op": op, **fields}))


def _component(name: str) -> dict[str, Any] | None:
    for comp in _call("status").get("components", []):
        if comp["name"] == name:
            return dict(comp)
    return None


def _change(op: str, units: list[str], **fields: Any) -> int:
    for unit in units:
        reply = _call(op, name=_unit(unit), **fields)
        if not reply.get("ok"):
            error = reply.get("error")
            print(f"Failed to {op} {unit}: {error}", file=sys.stderr)
            return NO_UNIT
    return 0


def _kill(args: list[str], units: list[str]) -> int:
    name = "SIGTERM"
    for i, a in enumerate(args):
        if a.startswith("--signal="):
            name = a.split("=", 1)[1]
        elif a in ("-s", "--signal") and i + 1 < len(args):
            name = args[i + 1]
    name = name.upper()
    sig = getattr(signal, name if name.startswith("SIG") else f"SIG{name}")
    targets = [u for u in units if u.upper() not in (name, name[3:])]
    return _change("kill", targets, signal=int(sig))


def _about(verb: str, comp: dict[str, Any]) -> int:
    running = comp.get("state") == "running"
    state = "active" if running else "inactive"
    if verb == "cat":
        print(f"# {comp['name']}.service (kube-gauntlet lab node supervisor)")
        print("[Service]\nExecStart=" + " ".join(comp.get("argv") or []))
        return 0
    if verb == "is-active":
        print(state)
    elif verb == "status":
        print(f"* {comp['name']}.service")
        print(f"   Active: {state} ({comp.get('state')})")
        print(f" Main PID: {comp.get('pid')}")
    elif verb == "show":
        print(f"MainPID={comp.get('pid') or 0}\nActiveState={state}")
        return 0
    else:
        print(f"systemctl {verb}: not offered by a lab node", file=sys.stderr)
        return 1
    return 0 if running else NOT_RUNNING


def systemctl(args: list[str]) -> int:
    """One systemctl invocation; options other than --signal are ignored."""
    words = [a for a in args if not a.startswith("-")]
    verb, units = (words[0], words[1:]) if words else ("list-units", [])
    if verb in NO_OPS:
        return 0
    if verb in ("stop", "start"):
        return _change(verb, units)
    if verb == "restart":
        return _change("stop", units) or _change("start", units)
    if verb == "kill":
        return _kill(args, units)
    if verb == "list-units":
        for comp in _call("status").get("components", []):
            print(f"{comp['name']}.service {comp.get('state')}")
        return 0
    if not units:
        print(f"systemctl {verb}: which unit?", file=sys.stderr)
        return 1
    comp = _component(_unit(units[0]))
    if comp is None:
        print(f"Unit {units[0]} could not be found.", file=sys.stderr)
        return NOT_RUNNING if verb in ("is-active", "status") else NO_UNIT
    return _about(verb, comp)


if __name__ == "__main__":
    try:
        sys.exit(systemctl(sys.argv[1:]))
    except OSError as exc:
        print(f"the node's supervisor does not answer: {exc}", file=sys.stderr)
        sys.exit(1)
