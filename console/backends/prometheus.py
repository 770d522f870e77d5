"""The Prometheus query client (prometheus-api-client, synchronous: callers run it in a thread); one-line errors."""

from __future__ import annotations

import ast
import json
import os
import re
from datetime import datetime, timezone
from typing import Any, Callable

import requests
import urllib3
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from console.config.schema import Prometheus
from console.safe_text import Scrubber
from console.sources.base import one_line
from console.sources.transport import SourceError, auth_headers, transport_reason

Vector = list[tuple[dict[str, str], float]]
Matrix = list[tuple[dict[str, str], list[tuple[float, float]]]]

_STATUS = re.compile(r"^HTTP Status Code (\d+) \((b(['\"]).*\3)\)$", re.S)


class QueryError(Exception):
    """A failed query, phrased as one line that names no secret.

    `server` is True when the server as a whole is unusable (unreachable, timeout, TLS, refused
    credentials, an answer that is not Prometheus's API); False when only this query failed
    (Prometheus rejected the PromQL, or could not evaluate it).
    """

    def __init__(self, message: str, *, server: bool) -> None:
        super().__init__(message)
        self.server = server


class PrometheusClient:
    """Instant, range and raw-sample queries against one server; every method blocks (run it in a thread)."""

    def __init__(self, cfg: Prometheus) -> None:
        self.cfg = cfg
        session = requests.Session()
        session.trust_env = False  # an HTTP(S)_PROXY meant for the shell must not reroute metric queries
        session.verify = (cfg.ca_bundle or True) if cfg.tls_verify else False
        if not cfg.tls_verify:  # the user said so in the config; a warning per query would scribble on the TUI
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        # Retry(total=0): the default policy retries 3 times with backoff, so a dead server took 6 s to fail.
        self._api = PrometheusConnect(url=cfg.url.rstrip("/"), retry=Retry(total=0), session=session,
                                      timeout=cfg.timeout)
        self._session = session  # ours: the client mounts its no-retry adapter on it; buildinfo is not in its API

    def close(self) -> None:
        self._api.close()

    def instant(self, expr: str, at: float) -> Vector:
        """`expr` evaluated by the server at `at`; a scalar is one entry with empty labels."""
        result = self._call(self._api.custom_query, expr, params=self._params(time=at))
        if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
            return [({}, _float(result[1]))]  # resultType scalar: [ts, "value"]
        try:
            return [(dict(r["metric"]), _float(r["value"][1])) for r in result]
        except (KeyError, TypeError, IndexError):
            raise QueryError(f"unexpected answer: {one_line(json.dumps(result), 80)}", server=False) from None

    def range(self, expr: str, start: float, end: float, step: float) -> Matrix:
        """query_range: every series of `expr` as (labels, [(ts, value)])."""
        # start/end go in params too: the client rounds its datetime arguments to whole seconds
        start_dt, end_dt = (datetime.fromtimestamp(t, tz=timezone.utc) for t in (start, end))
        result = self._call(self._api.custom_query_range, expr, start_dt, end_dt, repr(float(step)),
                            params=self._params(start=start, end=end))
        return _matrix(result)

    def raw(self, selector: str, window: float, at: float) -> Matrix:
        """The samples the server stored for `selector` in [at - window, at]: a range-vector instant query."""
        result = self._call(self._api.custom_query, f"{selector}[{round(window * 1000)}ms]",
                            params=self._params(time=at))
        return _matrix(result)

    def version(self) -> str | None:
        """The server's version from /api/v1/status/buildinfo (None when it does not say)."""
        try:
            resp = self._session.get(f"{self._api.url}/api/v1/status/buildinfo", headers=self._headers(),
                                          timeout=self.cfg.timeout)
            return str(resp.json()["data"]["version"]) if resp.status_code == 200 else None
        except (requests.RequestException, ValueError, KeyError, TypeError, QueryError):
            return None  # Thanos, Mimir and others may not serve it: the version is only shown

    # --- the one path every request takes -----------------------------------------------

    def _params(self, **kw: float) -> dict[str, str]:
        params = {k: repr(float(v)) for k, v in kw.items()}
        params["timeout"] = f"{round(self.cfg.timeout * 1000)}ms"  # the server gives up when we do
        return params

    def _headers(self) -> dict[str, str]:
        """Read now, so a rotated secret is picked up; a missing variable is a server-level error."""
        try:
            headers = auth_headers(self.cfg.auth)
        except SourceError as e:
            raise QueryError(str(e), server=True) from None
        for name, env in self.cfg.header_envs.items():
            value = os.environ.get(env)
            if not value:
                raise QueryError(f"header {name}: environment variable {env} is not set", server=True)
            headers[name] = value
        return headers

    def _secrets(self) -> list[str]:
        values = [os.environ.get(env, "") for env in self.cfg.secret_envs()]
        try:
            values += list(self._headers().values())
        except QueryError:
            pass
        values += [v.split(" ", 1)[1] for v in values if v.startswith(("Basic ", "Bearer "))]
        return [v for v in values if v]

    def _call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        self._api.headers = self._headers()
        try:
            return fn(*args, **kw)
        except QueryError:
            raise
        except PrometheusApiClientException as e:
            raise self._status_error(str(e)) from None
        except (requests.exceptions.JSONDecodeError, ValueError) as e:
            # a 200 whose body is not JSON: not Prometheus's API (a login page, a proxy's page)
            raise QueryError(f"not a Prometheus API answer: {one_line(str(e), 80)}", server=True) from None
        except requests.exceptions.SSLError as e:
            raise QueryError(f"TLS: {_tls_reason(e)}", server=True) from None
        except requests.RequestException as e:
            if _timed_out(e):
                raise QueryError(f"timeout after {float(self.cfg.timeout)}s", server=True) from None
            raise QueryError(f"unreachable: {transport_reason(_root(e))}", server=True) from None
        except (KeyError, TypeError):
            raise QueryError("not a Prometheus API answer: no data.result", server=True) from None

    def _status_error(self, text: str) -> QueryError:
        m = _STATUS.match(text)
        if m is None:
            return QueryError(one_line(text, 120), server=True)
        code = int(m.group(1))
        body = ast.literal_eval(m.group(2)).decode("utf-8", "replace")
        body = Scrubber(self._secrets())(body)
        if code in (401, 403):
            auth = self.cfg.auth
            who = {"basic": f"basic auth as {auth.username}", "bearer": f"bearer token from {auth.token_env}",
                   "header": f"{auth.header} from {auth.value_env}"}.get(auth.type, "no credentials configured")
            word = "unauthorized" if code == 401 else "forbidden"
            return QueryError(f"HTTP {code} {word} ({who})", server=True)
        try:
            doc = json.loads(body)
            return QueryError(f"HTTP {code} {doc['errorType']}: {one_line(str(doc['error']), 160)}", server=False)
        except (ValueError, KeyError, TypeError):
            # no Prometheus error document: a proxy's or a wrong URL's page, so the server itself is unusable
            return QueryError(f"HTTP {code}: {one_line(body, 80) or '(empty body)'}", server=True)


def _float(text: Any) -> float:
    try:
        return float(text)  # Prometheus writes "NaN", "+Inf", "-Inf", and the shortest exact decimal
    except (TypeError, ValueError):
        raise QueryError(f"not a number in the answer: {one_line(str(text), 40)!r}", server=False) from None


def _matrix(result: Any) -> Matrix:
    try:
        return [(dict(r["metric"]), [(float(t), _float(v)) for t, v in r["values"]]) for r in result]
    except (KeyError, TypeError, ValueError):
        raise QueryError(f"unexpected answer: {one_line(json.dumps(result), 80)}", server=False) from None


def _chain(e: BaseException):
    """An exception and its causes, including the reason urllib3 wraps in MaxRetryError."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        nxt = getattr(e, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = next((a for a in e.args if isinstance(a, BaseException)), None) or e.__cause__ or e.__context__
        e = nxt


def _timed_out(e: BaseException) -> bool:
    # urllib3 makes a refused connection a ConnectTimeoutError subclass (NewConnectionError): not a timeout
    ux = urllib3.exceptions
    return any(isinstance(x, (requests.Timeout, ux.ReadTimeoutError))
               or isinstance(x, ux.ConnectTimeoutError) and not isinstance(x, ux.NewConnectionError)
               for x in _chain(e))


def _root(e: BaseException) -> BaseException:
    """The innermost cause (a refused connection's OSError), whose errno names the reason."""
    return list(_chain(e))[-1]


def _tls_reason(e: Exception) -> str:
    text = str(e)
    m = re.search(r"certificate verify failed: ([^(\"')]+)", text)
    if m:
        return f"certificate verify failed: {m.group(1).strip()}"
    return one_line(text.split("(Caused by")[-1], 100)
