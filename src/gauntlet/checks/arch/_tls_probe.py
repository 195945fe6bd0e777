"""Knock on an etcd client port and see whether etcd answers.

A probe sends one real etcd request (a count of the keys under
``/registry/`` through etcd's JSON gateway) over TLS without verifying the
server, with or without a client certificate. etcd either answers it
(``accepted``: anyone with that identity reads the cluster state), refuses
it in the TLS handshake or with 401/403 (``refused``), or cannot be
reached at all (``unreachable``: refused at the network, but not evidence
about etcd's own authentication).

From the runner the probe uses Python's ``ssl``; from a node or inside a
pod's network namespace it uses the host's ``curl`` through node access.

``judge`` counts what answered: a probe with no answer is neither a pass
nor dropped; when nothing answered, the probes proved nothing.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from gauntlet.nodes.base import NodeAccess

Verdict = Literal["accepted", "refused", "unreachable"]
PROBE_TIMEOUT_S = 8.0
RANGE_PATH = "/v3/kv/range"
_READ_LIMIT = 65536
_CURL_UNREACHABLE = {6: "cannot resolve", 7: "connect failed", 28: "timed out"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


RANGE_BODY = json.dumps(
    {
        "key": _b64("/registry/"),
        "range_end": _b64("/registry0"),
        "count_only": True,
    }
)


@dataclass(frozen=True)
class Probe:
    """What one attempt to read etcd saw."""

    source: str
    """Where the probe ran from (``runner``, ``pod kg-x/etcd-probe``...)."""
    identity: str
    """``no certificate`` or whose certificate was presented."""
    url: str
    verdict: Verdict
    detail: str

    def describe(self) -> str:
        return (
            f"{self.url} from {self.source} with {self.identity}: "
            f"{self.verdict} ({self.detail})"
        )


@dataclass(frozen=True)
class ProbeVerdict:
    """What a set of probes proved: the clients etcd answered, and how
    many probes got no answer at all."""

    findings: tuple[str, ...]
    """One per accepted probe, naming the member, identity and source."""
    answered: int
    """Probes etcd answered (accepted or refused)."""
    unanswered: tuple[str, ...]
    """Probes with no answer, and identities that could not be tried."""

    @property
    def unobserved(self) -> str:
        """Why nothing was proved (empty when some probe was answered)."""
        if self.answered:
            return ""
        shown = "; ".join(self.unanswered[:3]) or "no probe was made"
        more = len(self.unanswered) - 3
        return (
            "no probe got an answer: "
            + shown
            + (f"; and {more} more" if more > 0 else "")
        )


def judge(
    probes: Sequence[Probe],
    untried: Iterable[str] = (),
    member: Callable[[str], str] = str,
) -> ProbeVerdict:
    """Count the probes: ``accepted`` is a finding, ``refused`` an
    answer, ``unreachable`` no answer; ``untried`` adds identities that
    could not be presented (no process, no certificate)."""
    findings = tuple(
        f"etcd {member(p.url)} answered {p.identity} from {p.source} "
        f"({p.detail})"
        for p in probes
        if p.verdict == "accepted"
    )
    unanswered = tuple(
        p.describe() for p in probes if p.verdict == "unreachable"
    )
    answered = len(probes) - len(unanswered)
    return ProbeVerdict(findings, answered, unanswered + tuple(untried))


def from_runner(
    url: str,
    identity: str = "no certificate",
    cert_pem: str | None = None,
    key_pem: str | None = None,
) -> Probe:
    """Probe ``url`` from this process, presenting the PEM pair if given."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 2379
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE

    def result(verdict: Verdict, detail: str) -> Probe:
        return Probe("runner", identity, url, verdict, detail)

    if cert_pem and key_pem:
        with tempfile.TemporaryDirectory(prefix="kg-etcd-probe-") as tmp:
            cert, key = Path(tmp, "client.crt"), Path(tmp, "client.key")
            for path, pem in ((cert, cert_pem), (key, key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(pem)
            tls.load_cert_chain(cert, key)
    try:
        sock = socket.create_connection((host, port), PROBE_TIMEOUT_S)
    except OSError as exc:
        return result("unreachable", _oserror(exc))
    request = (
        f"POST {RANGE_PATH} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(RANGE_BODY)}\r\nConnection: close\r\n\r\n"
        f"{RANGE_BODY}"
    ).encode()
    data = b""
    try:
        with tls.wrap_socket(sock, server_hostname=host) as conn:
            conn.sendall(request)
            while len(data) < _READ_LIMIT:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
    except ssl.SSLError as exc:
        return result("refused", f"TLS: {exc.reason or exc}")
    except OSError as exc:
        if not data:
            return result("refused", f"connection dropped: {_oserror(exc)}")
    finally:
        sock.close()
    return _http_verdict(result, data.decode(errors="replace"))


def from_node(
    nodes: NodeAccess,
    node: str,
    url: str,
    netns_pid: int | None = None,
    source: str | None = None,
) -> Probe:
    """Probe ``url`` with ``curl`` on ``node``, without a certificate.

    With ``netns_pid`` the probe runs in that process's network namespace
    (a pod's), using the host's curl.
    """
    argv = [
        "curl",
        "-sS",
        "-k",
        "--http1.1",
        "--connect-timeout",
        "4",
        "--max-time",
        str(int(PROBE_TIMEOUT_S)),
        "-H",
        "Content-Type: application/json",
        "-d",
        RANGE_BODY,
        "-w",
        "\n%{http_code}",
        url.rstrip("/") + RANGE_PATH,
    ]
    if netns_pid is not None:
        argv = ["nsenter", "-t", str(netns_pid), "-n", "--", *argv]
    proc = nodes.run(node, argv, timeout_s=PROBE_TIMEOUT_S + 10)
    where = source or f"node {node}"

    def result(verdict: Verdict, detail: str) -> Probe:
        return Probe(where, "no certificate", url, verdict, detail)

    error = (proc.stderr.strip().splitlines() or [""])[-1]
    if proc.returncode in _CURL_UNREACHABLE:
        return result(
            "unreachable", error or _CURL_UNREACHABLE[proc.returncode]
        )
    if proc.returncode == 127:
        return result("unreachable", f"no curl on {node}: not probed")
    if proc.returncode != 0:
        return result("refused", error or f"curl exit {proc.returncode}")
    body, _, code = proc.stdout.rpartition("\n")
    return _http_verdict(result, f"HTTP/1.1 {code.strip()} -\r\n\r\n{body}")


def _http_verdict(
    result: Callable[[Verdict, str], Probe], response: str
) -> Probe:
    head, _, body = response.partition("\r\n\r\n")
    status_line = head.splitlines()[0] if head else ""
    fields = status_line.split()
    if len(fields) < 2 or not fields[1].isdigit():
        return result("refused", "closed without an HTTP answer")
    status = int(fields[1])
    if status in (401, 403):
        return result("refused", f"HTTP {status}")
    count = _key_count(body)
    what = f"{count} keys under /registry/" if count is not None else "body"
    return result("accepted", f"HTTP {status}, answered with {what}")


def _key_count(body: str) -> int | None:
    start = body.find("{")
    if start < 0:
        return None
    try:
        return int(
            json.loads(body[start : body.rfind("}") + 1]).get("count", 0)
        )
    except (ValueError, AttributeError):
        return None


def _oserror(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
