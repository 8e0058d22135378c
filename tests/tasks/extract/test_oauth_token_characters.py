"""An access token a provider's token endpoint answers with a character no token holds, or blank,
is refused in one line saying so, never the token (httpx's own error would quote it from the
Authorization header it cannot encode); the refresh token the endpoint rotated is still handed
on to be kept, as the configured one no longer works."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tasks.errors import InputError
from tasks.extract.oauth import RefreshingBearerAuth


def _token_endpoint(access_token: str | None) -> type[BaseHTTPRequestHandler]:
    class TokenEndpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"access_token": access_token, "refresh_token": "rotated", "expires_in": 3600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return TokenEndpoint


@pytest.mark.parametrize(
    ("access_token", "why"),
    [
        ("abc\u200bSECRETdef", "holds an invisible character (U+200B) at character 4, which no token holds"),
        ("   ", "is blank"),
        ("", "is blank"),
        (None, "is blank"),
    ],
    ids=["invisible-character", "blank", "empty", "null"],
)
def test_a_token_endpoint_answering_an_unsendable_token_is_refused_without_showing_it(access_token, why):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _token_endpoint(access_token))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kept = []
    auth = RefreshingBearerAuth(
        "constantcontact://", "Constant Contact", f"http://127.0.0.1:{server.server_address[1]}/token", None,
        refresh_token="configured", client_id="c", on_new_tokens=lambda access, refresh: kept.append((access, refresh)),
    )  # fmt: skip
    try:
        with pytest.raises(InputError) as refused:
            next(auth.auth_flow(httpx.Request("GET", "http://127.0.0.1:9/contacts")))
    finally:
        server.shutdown()

    assert str(refused.value) == f"constantcontact://: Constant Contact's token endpoint answered an access token that {why}"
    assert "SECRET" not in str(refused.value)
    assert kept == [("", "rotated")]
