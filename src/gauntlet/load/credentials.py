"""The load generator's credentials, resolved as the kubernetes client does.

Locust users must send what ``kubernetes.client`` sends, or a cluster
whose users authenticate through an exec plugin or OIDC (EKS, GKE, AKS)
answers every request with 401. So the kubeconfig is loaded by
``kubernetes.config`` itself (exec plugins, auth providers, token files,
client certificates, in-cluster service account) into a
``Configuration``; TLS material comes from it, and the Authorization
header is asked of it again every ``REFRESH_S`` when it can change (an
exec plugin, an auth provider, the in-cluster token file), so its
refresh hook renews an expiring token the way the client would; a static
token is read once. Asking on every request cost 0.7 ms of CPU each (the
hook re-applies the whole kubeconfig), a third of what a load user
spends on a request.

Imports kubernetes: in the Locust process, import this after locust
(gevent must patch ``ssl`` before kubernetes imports it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import monotonic

from kubernetes import client, config
from kubernetes.config import kube_config
from kubernetes.config.config_exception import ConfigException
from requests import PreparedRequest
from requests.auth import AuthBase
from requests.utils import should_bypass_proxies

from gauntlet.errors import UsageError

__all__ = ["Credentials", "Source", "resolve"]

ENV_KUBECONFIG = "KG_LOAD_KUBECONFIG"
ENV_CONTEXT = "KG_LOAD_CONTEXT"
ENV_IN_CLUSTER = "KG_LOAD_IN_CLUSTER"
REFRESH_S = 10.0
"""How long a header that can change is reused before the client's
configuration is asked again: far inside the client's own margins (it
renews an exec or auth-provider token 5 minutes before it expires and
rereads the in-cluster token file every minute)."""


@dataclass(frozen=True)
class Source:
    """Where the credentials come from; plain strings cross processes."""

    kubeconfig: Path | None
    context: str | None
    in_cluster: bool = False

    @property
    def label(self) -> str:
        """The context name for messages."""
        if self.in_cluster:
            return "in-cluster"
        return self.context or "current-context"

    def to_env(self) -> dict[str, str]:
        if self.in_cluster:
            return {ENV_IN_CLUSTER: "1"}
        env = {ENV_KUBECONFIG: str(self.kubeconfig or "")}
        if self.context:
            env[ENV_CONTEXT] = self.context
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Source:
        if env.get(ENV_IN_CLUSTER) == "1":
            return cls(None, None, in_cluster=True)
        kubeconfig = env.get(ENV_KUBECONFIG)
        return cls(
            Path(kubeconfig) if kubeconfig else None,
            env.get(ENV_CONTEXT) or None,
        )


class Credentials(AuthBase):
    """What a load user presents: TLS material and an Authorization
    header renewed as the kubernetes client renews it.

    A ``requests`` auth hook: ``session.auth = credentials``.
    """

    def __init__(
        self,
        cfg: client.Configuration,
        source: Source,
        refresh_s: float | None = None,
    ) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()
        self.refresh_s = refresh_s
        """Seconds a header is reused before the configuration is asked
        again; None: asked once (it cannot change)."""
        self._cached: tuple[float, str | None] | None = None
        """(when asked, monotonic; the header)."""
        self.source = source
        self.server = str(cfg.host)
        self.verify: str | bool = True
        """CA file, True for the system CAs, False when the kubeconfig
        says ``insecure-skip-tls-verify``."""
        if not cfg.verify_ssl:
            self.verify = False
        elif cfg.ssl_ca_cert:
            self.verify = str(cfg.ssl_ca_cert)
        self.cert: tuple[str, str] | None = (
            (str(cfg.cert_file), str(cfg.key_file))
            if cfg.cert_file and cfg.key_file
            else None
        )
        """Client certificate and key files."""
        self.proxy: str | None = _proxy(cfg)

    @property
    def configuration(self) -> client.Configuration:
        """The kubernetes client's configuration (for an ``ApiClient``)."""
        return self._cfg

    def authorization(self) -> str | None:
        """The Authorization header the client would send now, at most
        ``refresh_s`` old (its refresh hook reruns an exec plugin whose
        token expires)."""
        cached = self._cached
        if cached is not None and (
            self.refresh_s is None or monotonic() - cached[0] < self.refresh_s
        ):
            return cached[1]
        with self._lock:
            now = self._cached
            if now is cached:  # else another caller has just asked
                now = (monotonic(), self._ask())
                self._cached = now
        return now[1] if now is not None else None

    def ask(self) -> str | None:
        """The header, asked of the client's configuration now (no
        cache)."""
        with self._lock:
            return self._ask()

    def _ask(self) -> str | None:
        value = self._cfg.get_api_key_with_prefix(
            "BearerToken", alias="authorization"
        )
        return str(value) if value else None

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        header = self.authorization()
        if header:
            request.headers["Authorization"] = header
        return request


def resolve(source: Source) -> Credentials:
    """Load ``source`` with ``kubernetes.config``.

    Certificate files it writes from ``*-data`` are the kubernetes
    module's: cached per process by content and removed at exit (a
    directory of ours would leave its cache pointing at deleted files).

    Raises:
        UsageError: the kubeconfig cannot be loaded, names a TLS server
            name the load generator cannot honour, or yields no
            credentials (an exec plugin that failed says why).
    """
    cfg = client.Configuration()
    where = f"kubeconfig {source.kubeconfig}, context {source.label}"
    with _logged_errors() as errors:
        try:
            if source.in_cluster:
                where = "in-cluster configuration"
                config.load_incluster_config(  # type: ignore[no-untyped-call]
                    client_configuration=cfg
                )
            else:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=str(source.kubeconfig)
                    if source.kubeconfig
                    else None,
                    context=source.context,
                    client_configuration=cfg,
                    persist_config=False,
                )
        except (ConfigException, OSError, ValueError) as exc:
            raise UsageError(
                f"load: {where}: cannot load credentials ({_first(exc)})"
            ) from exc
    credentials = Credentials(
        cfg, source, REFRESH_S if _may_change(source) else None
    )
    if getattr(cfg, "tls_server_name", None):
        raise UsageError(
            f"load: {where}: tls-server-name is not supported by the load "
            "generator; use a server address its certificate names"
        )
    if credentials.cert is None and credentials.ask() is None:
        why = f" ({'; '.join(errors)})" if errors else ""
        raise UsageError(
            f"load: {where}: the user yields no credentials{why}; fix its "
            "user entry"
        )
    return credentials


def _may_change(source: Source) -> bool:
    """Whether the client's header can change during a run: the
    in-cluster token file (reread every minute), or a kubeconfig user
    with an exec plugin or an auth provider (rerun when its token
    expires). A static token, a ``tokenFile`` (the Python client reads
    it once, at load), basic auth or a client certificate cannot.
    ``source`` has just been loaded: the kubeconfig parses."""
    if source.in_cluster:
        return True
    merged = kube_config.KubeConfigMerger(  # type: ignore[no-untyped-call]
        str(source.kubeconfig)
        if source.kubeconfig
        else kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    ).config
    context = merged["contexts"].get_with_name(
        source.context or merged["current-context"]
    )["context"]
    name = context.safe_get("user")
    if not (name and merged.safe_get("users")):
        return False
    entry = merged["users"].get_with_name(name, safe=True)
    user = entry.safe_get("user") if entry else None
    return user is not None and ("exec" in user or "auth-provider" in user)


def _proxy(cfg: client.Configuration) -> str | None:
    """The proxy the client uses for the server, unless ``no_proxy``
    bypasses it."""
    proxy = getattr(cfg, "proxy", None)
    if not proxy:
        return None
    no_proxy = getattr(cfg, "no_proxy", None)
    if no_proxy and should_bypass_proxies(str(cfg.host), no_proxy):
        return None
    return str(proxy)


@contextmanager
def _logged_errors() -> Iterator[list[str]]:
    """Errors the kubernetes loader logs instead of raising (a failed
    exec plugin), so the refusal can say why."""
    found: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(_first(record.getMessage()))

    handler = _Keep(logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield found
    finally:
        root.removeHandler(handler)


def _first(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
