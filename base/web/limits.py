"""What one request may be, for the kiosk's screens and central's dashboard alike (docs/security.md).

A body is at most MAX_BODY bytes (waitress refuses a larger one from its Content-Length, before reading it: see
base.web.serving), and a JSON body nests at most MAX_JSON_DEPTH levels: Python's json parser recurses, so 30,000
nested brackets (60 KB) would end in RecursionError, a 500. Every refusal here is an HTTP error with a stable code.
"""

from __future__ import annotations

import json

from flask import Flask, Response, abort, request

from base.refusal import Refusal

MAX_BODY = 64 * 1024
MAX_JSON_DEPTH = 32


class RequestRefused(Refusal):
    MESSAGES = {
        "bad_request": ("Yêu cầu không hợp lệ.", "The request is not valid."),
        "body_too_large": ("Dữ liệu gửi lên quá lớn.", f"The request body is larger than {MAX_BODY} bytes."),
        "headers_too_large": ("Phần đầu yêu cầu quá lớn.", "The request headers are too large."),
        "json_too_deep": ("Dữ liệu JSON lồng nhau quá sâu.",
                          f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels."),
        "not_implemented": ("Máy chủ không hỗ trợ kiểu yêu cầu này.", "The server does not support this request."),
    }


def refusal_body(code: str) -> bytes:
    return json.dumps(RequestRefused(code).to_json(), ensure_ascii=False).encode("utf-8")


def refusal_response(code: str, status: int) -> Response:
    return Response(refusal_body(code), status, mimetype="application/json")


def install(app: Flask) -> None:
    """Flask's own size check (MAX_CONTENT_LENGTH, for any server in front of the app) answers with the code too."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.register_error_handler(413, lambda _exc: refusal_response("body_too_large", 413))


def json_body():
    """The request's JSON body (any JSON value), or None when it is not JSON. Answers 400 `json_too_deep`, without
    parsing, to a body that nests too deep."""
    if not request.is_json:
        return None
    if too_deep(request.get_data(as_text=True)):  # at most MAX_BODY; cached for get_json
        abort(refusal_response("json_too_deep", 400))
    return request.get_json(silent=True)


def too_deep(text: str) -> bool:
    """Brackets nested deeper than MAX_JSON_DEPTH outside JSON strings, found in one pass (a regex over strings
    backtracks quadratically on unterminated ones)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False  # the common case: two counts
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False
