"""A small OpenAI-compatible chat server for tests: 127.0.0.1, a free port, a thread, no network.

    with StubServer() as server:             # server.url == "http://127.0.0.1:PORT/v1"
        server.script("429:1", "ok")          # the next request gets a 429 with Retry-After: 1, then OK
        ...
        server.requests                       # every request body received, in order

POST /v1/chat/completions answers, when the request has a `response_format` of type json_schema, with a
minimal valid instance of that schema (`instance()`: first enum value, required properties filled,
minItems / prefixItems respected, the first branch of anyOf / oneOf), so a council gets valid turns
and resolutions; otherwise with `{"ok": true}`. Usage numbers are in every reply.

`StubServer(dialect="llama_cpp")` answers like llama-cpp-python's server: a `json_schema` response format
gets HTTP 500 with that server's validation message, a `json_object` with a `schema` gets an instance.

Behaviours, one per request, taken from the script queue (then `default`):
  ok | malformed (200 with text that is not JSON) | 400 | 500 | 429[:retry_after_s] | hang[:seconds]
  echo-auth (a valid reply whose every string is the request's Authorization header, as a leaky proxy
  would) | echo-auth-malformed (200, not JSON, quoting the header) | 401
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["StubServer", "instance"]


def instance(schema: dict[str, Any]) -> Any:
    """A minimal value that validates against `schema` (the subset of JSON Schema replies use)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return instance(schema[key][0])
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return instance(merged)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if ("items" in schema or "prefixItems" in schema) else "string"
    if kind == "object":
        props = schema.get("properties", {})
        return {name: instance(props.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        out = [instance(s) for s in schema.get("prefixItems", [])]
        items = schema.get("items")
        while len(out) < int(schema.get("minItems", 0)) and isinstance(items, dict):
            out.append(instance(items))
        return out
    if kind == "string":
        text = "stub"
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(low, "x")
        return text[: int(high)] if high is not None else text
    if kind in ("integer", "number"):
        value: float = 0
        if "minimum" in schema:
            value = max(value, schema["minimum"])
        if "exclusiveMinimum" in schema:
            value = max(value, schema["exclusiveMinimum"] + (1 if kind == "integer" else 1e-6))
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return None


def _replace_strings(value: Any, text: str) -> Any:
    if value == "stub":
        return text
    if isinstance(value, list):
        return [_replace_strings(v, text) for v in value]
    if isinstance(value, dict):
        return {k: _replace_strings(v, text) for k, v in value.items()}
    return value


class StubServer:
    """The server; start with `with StubServer() as s:` or `.start()` / `.stop()`."""

    def __init__(self, default: str = "ok", name: str = "stub", dialect: str = "openai") -> None:
        self.default = default
        self.dialect = dialect
        self.name = name
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []  # arrival time of each request (time.monotonic)
        self.answered: list[str] = []  # behaviour applied to each request
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control --------------------------------------------------------------------------------
    def script(self, *behaviours: str) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def _next(self, body: dict[str, Any]) -> str:
        with self._lock:
            self.requests.append(body)
            self.times.append(time.monotonic())
            behaviour = self._queue.popleft() if self._queue else self.default
            self.answered.append(behaviour)
            return behaviour

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> StubServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                stub._answer(self, body)

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()  # wakes hanging handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- replies --------------------------------------------------------------------------------
    def _answer(self, handler: Any, body: dict[str, Any]) -> None:
        behaviour = self._next(body)
        name, _, arg = behaviour.partition(":")
        fmt = body.get("response_format") or {}
        if self.dialect == "llama_cpp" and isinstance(fmt, dict) and fmt.get("type") not in (None, "text", "json_object"):
            message = ("1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                       "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}")
            handler._send(500, {"error": {"message": message, "type": "internal_server_error"}})
            return
        if name == "hang":
            self._closing.wait(float(arg or 30))
            handler._send(200, self._completion(body, self._content(body)))
        elif name == "429":
            handler._send(429, {"error": {"message": "rate limited by the stub", "type": "rate_limit_error"}}, {"Retry-After": arg or "1"})
        elif name == "500":
            handler._send(500, {"error": {"message": "internal error in the stub", "type": "server_error"}})
        elif name == "400":
            handler._send(400, {"error": {"message": "invalid request: the stub refuses this one", "type": "invalid_request_error"}})
        elif name == "401":
            handler._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})
        elif name in ("echo-auth", "echo-auth-malformed"):
            auth = str(handler.headers.get("Authorization") or "")
            if name == "echo-auth-malformed":
                handler._send(200, self._completion(body, f"Authorization: {auth} (key {auth.split()[-1] if auth else ''}) {{not json"))
            else:
                text = json.dumps(_replace_strings(json.loads(self._content(body)), f"{auth} / {auth.split()[-1] if auth else ''}"))
                handler._send(200, self._completion(body, text))
        elif name == "malformed":
            handler._send(200, self._completion(body, "Sure! Here is my answer: {not json"))
        else:
            handler._send(200, self._completion(body, self._content(body)))

    def _content(self, body: dict[str, Any]) -> str:
        fmt = body.get("response_format") or {}
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            return json.dumps(instance(schema))
        if isinstance(fmt, dict) and fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
            return json.dumps(instance(fmt["schema"]))
        return json.dumps({"ok": True})

    def _completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages") or [] if isinstance(m, dict))
        prompt, completion = max(1, prompt_chars // 4), max(1, len(text) // 4)
        return {
            "id": f"chatcmpl-stub-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }
