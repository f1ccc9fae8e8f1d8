"""An OpenAI-compatible Chat Completions server on 127.0.0.1, answering with the agents' offline policies.

It tells the agents apart by the first line of their instructions (the system
message), rebuilds what a policy sees from the chat messages (the assistant's
tool calls and the tool messages answering them), and turns the policy's
decision into a completion: ``tool_calls``, or the final output as JSON content
in the requested ``response_format``. Its ``usage`` is its own arithmetic,
never tiktoken's, so a test can tell where stored token counts came from.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel

from coursegen.shared.models import Policy, PolicyView
from coursegen.shared.subjects import STAGES

COMPLETION_TOKENS = 7
"""What every answer claims to have cost in output tokens."""


def prompt_tokens_for(messages: list[dict[str, Any]]) -> int:
    """What a request claims to have cost in input tokens: nothing tiktoken would count."""
    return 1000 + 10 * len(messages)


@dataclass
class StubRequest:
    agent: str | None
    prompt: str
    status: int
    messages: list[dict[str, Any]]
    tools: list[str]
    response_format: dict[str, Any] | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    answer: str = ""
    """"tool_calls" or "content"."""


@dataclass
class OpenAIStub:
    """The server; ``rate_limit_first`` answers the first request 429 with ``Retry-After``."""

    rate_limit_first: bool = True
    retry_after: str = "0.2"
    requests: list[StubRequest] = field(default_factory=list)
    _agents: dict[str, tuple[str, Policy]] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for stage in STAGES:
            spec = __import__(f"coursegen.{stage}.app", fromlist=["spec"]).spec
            first_line = str(spec.agent.instructions).splitlines()[0]
            self._agents[first_line] = (stage, spec.policy)

    def use_policy(self, stage: str, policy: Policy) -> None:
        """Answer one agent with another policy (a judge that does what the offline one does not)."""
        for line, (known, _) in list(self._agents.items()):
            if known == stage:
                self._agents[line] = (stage, policy)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> OpenAIStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                status, headers, answer = stub.answer(self.path, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def for_session(self, session_id: str) -> list[StubRequest]:
        return [r for r in self.requests if f"session_id={session_id}" in r.prompt]

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        messages: list[dict[str, Any]] = body.get("messages") or []
        system = next((_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")), "")
        known = self._agents.get(system.splitlines()[0] if system else "")
        view = _view(messages)
        request = StubRequest(
            agent=known[0] if known else None,
            prompt=view.prompt,
            status=200,
            messages=messages,
            tools=[t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"],
            response_format=body.get("response_format"),
        )
        with self._lock:
            first = not self.requests
            self.requests.append(request)
        if path != "/v1/chat/completions":
            request.status = 404
            return 404, {}, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}}
        if first and self.rate_limit_first:
            request.status = 429
            return (
                429,
                {"Retry-After": self.retry_after},
                {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
            )
        if known is None:
            request.status = 400
            return 400, {}, {"error": {"message": "unknown agent", "type": "invalid_request_error"}}
        decision = known[1](view)
        if isinstance(decision, list):
            unknown = [c.name for c in decision if c.name not in request.tools]
            if unknown:
                request.status = 400
                return 400, {}, {"error": {"message": f"tools not offered: {unknown}", "type": "invalid_request_error"}}
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{len(self.requests)}_{i}",
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                    }
                    for i, c in enumerate(decision)
                ],
            }
            finish, request.answer = "tool_calls", "tool_calls"
        else:
            content = decision.model_dump_json() if isinstance(decision, BaseModel) else json.dumps(decision)
            problem = _against_schema(json.loads(content), request.response_format)
            if problem:
                request.status = 400
                return 400, {}, {"error": {"message": problem, "type": "invalid_request_error"}}
            message = {"role": "assistant", "content": content}
            finish, request.answer = "stop", "content"
        request.prompt_tokens = prompt_tokens_for(messages)
        request.completion_tokens = COMPLETION_TOKENS
        return (
            200,
            {},
            {
                "id": f"chatcmpl-stub-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "?"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": {
                    "prompt_tokens": request.prompt_tokens,
                    "completion_tokens": request.completion_tokens,
                    "total_tokens": request.prompt_tokens + request.completion_tokens,
                },
            },
        )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
    return ""


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _view(messages: list[dict[str, Any]]) -> PolicyView:
    prompt: list[str] = []
    names: dict[str, str] = {}
    results: dict[str, list[Any]] = {}
    for m in messages:
        role = m.get("role")
        if role == "user":
            prompt.append(_text(m.get("content")))
        elif role == "assistant":
            for call in m.get("tool_calls") or []:
                names[call["id"]] = call["function"]["name"]
        elif role == "tool":
            name = names.get(m.get("tool_call_id", ""), "?")
            results.setdefault(name, []).append(_parse(_text(m.get("content"))))
    return PolicyView(prompt="\n".join(prompt), results=results)


def _against_schema(output: Any, response_format: dict[str, Any] | None) -> str | None:
    """Why ``output`` does not fit the requested JSON schema's top level, or None."""
    if not response_format or response_format.get("type") != "json_schema":
        return f"final output without a json_schema response_format: {response_format}"
    schema = response_format["json_schema"]["schema"]
    if not isinstance(output, dict):
        return "final output is not a JSON object"
    missing = set(schema.get("required", [])) - set(output)
    extra = set(output) - set(schema.get("properties", {}))
    if missing or extra:
        return f"final output does not fit the schema: missing {sorted(missing)}, extra {sorted(extra)}"
    return None


@contextlib.contextmanager
def serving(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    """The stub running, and the OpenAI client of every agent pointed at it."""
    stub.start()
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    try:
        yield stub
    finally:
        stub.stop()
