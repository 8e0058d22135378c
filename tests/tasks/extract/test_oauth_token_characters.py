"""An access token a provider's token endpoint answers with a character no token holds is refused
in one line saying so, never the token (httpx's own error would quote it
from the Authorization header it cannot encode)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tasks.errors import InputError
from tasks.extract.oauth import RefreshingBearerAuth

TOKEN = "abc\u200bSECRETdef"


class _TokenEndpoint(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"access_token": TOKEN, "refresh_token": "r2", "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def token_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()


def test_a_token_endpoint_answering_an_unsendable_token_is_refused_without_showing_it(token_url):
    auth = RefreshingBearerAuth("constantcontact://", "Constant Contact", token_url, None, refresh_token="r1", client_id="c")

    with pytest.raises(InputError) as refused:
        next(auth.auth_flow(httpx.Request("GET", "http://127.0.0.1:9/contacts")))

    message = str(refused.value)
    assert message == (
        "constantcontact://: Constant Contact's token endpoint answered an access token that holds an invisible "
        "character (U+200B) at character 4, which no token holds"
    )
    assert "SECRET" not in message and "abc" not in message
