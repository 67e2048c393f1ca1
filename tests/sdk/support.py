"""What the SDK cases share besides fixtures: the recording transport that keeps each exchange for the spec check,
and a deadline for calls that might sleep far too long."""

from __future__ import annotations

import contextlib
import signal

import httpx2

import spec_check


class _TeeStream(httpx2.SyncByteStream):
    """Hands the body to the SDK unchanged while keeping a copy for the spec check."""

    def __init__(self, inner: httpx2.SyncByteStream, exchange: spec_check.Exchange):
        self._inner = inner
        self._exchange = exchange

    def __iter__(self):
        for chunk in self._inner:
            self._exchange.body += chunk
            yield chunk
        self._exchange.complete = True

    def close(self) -> None:
        self._inner.close()


class RecordingTransport(httpx2.BaseTransport):
    """The SDK's usual transport, plus a record of each exchange (an SDK retry is a second exchange)."""

    def __init__(self, exchanges: list[spec_check.Exchange]):
        self._inner = httpx2.HTTPTransport()
        self._exchanges = exchanges

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._inner.handle_request(request)
        exchange = spec_check.Exchange(
            method=request.method,
            path=request.url.raw_path.decode("ascii"),
            status=response.status_code,
            content_type=response.headers.get("content-type", ""),
            anthropic="anthropic-version" in request.headers,
        )
        self._exchanges.append(exchange)
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_TeeStream(response.stream, exchange),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


@contextlib.contextmanager
def deadline(seconds: int, what: str):
    """Fails the case if the block runs longer than `seconds` (an SDK sleeping on a huge Retry-After, say)."""

    def expire(signum, frame):
        raise TimeoutError(f"{what} still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
