"""Which HTTP client polls a service: the lean HTTP/1.1 one (http11.py), or httpx where a proxy applies."""

from __future__ import annotations

import ssl
import urllib.request
from urllib.parse import urlsplit

import httpx

from . import http11


def poll_client(url: str, tls: ssl.SSLContext) -> httpx.AsyncClient | http11.Client:
    """A small pool of the service's own. httpx honours HTTP(S)_PROXY / NO_PROXY from the environment and the
    lean client does not, so a service a proxy applies to keeps httpx (its pool bounded the same way)."""
    if _proxied(url):
        own = httpx.Limits(max_connections=8, max_keepalive_connections=8)
        return httpx.AsyncClient(limits=own, verify=tls, follow_redirects=False)
    return http11.Client(tls, max_connections=8)


def _proxied(url: str) -> bool:
    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")
