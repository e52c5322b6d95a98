"""Seeded generators of bad input: what a scratched card, a noisy serial line, a confused user or a broken sender
produce. Every generator takes a random.Random so a failure replays from the printed seed."""

from __future__ import annotations

import random
import string

from tests.support.sync import qr

ALPHABETS = [
    string.printable,
    "0123456789|",
    "ĐđƯưƠơẤầẩẫậÁÀẢÃẠáàảãạ Nguyễn Văn Thị|0123456789",
    "\x00\x01\x1b\x7f\r\n\t|",
    "".join(map(chr, range(0x80, 0x250))),
    "\u200b\u202e\ufeff\ud800\udfff\U0001f489",  # zero-width, right-to-left override, BOM, lone surrogates, emoji
]


def text(rng: random.Random, max_len: int = 200) -> str:
    alphabet = rng.choice(ALPHABETS)
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(max_len)))


def mutated_id_qr(rng: random.Random) -> str:
    """A real ID-card payload damaged the way a bad read damages it: cut, extra or wrong characters, fields moved."""
    payload = list(qr(rng.randrange(10 ** 6)))
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(payload) + 1)
        action = rng.choice(("cut", "insert", "replace", "truncate", "swap_fields"))
        if action == "cut" and payload:
            del payload[min(at, len(payload) - 1)]
        elif action == "insert":
            payload.insert(at, rng.choice(string.printable + "|Đ\x00"))
        elif action == "replace" and at < len(payload):
            payload[at] = rng.choice(string.printable + "|ư")
        elif action == "truncate":
            payload = payload[:at]
        elif action == "swap_fields":
            fields = "".join(payload).split("|")
            rng.shuffle(fields)
            payload = list("|".join(fields))
    return "".join(payload)


def scanned_text(rng: random.Random) -> str:
    return mutated_id_qr(rng) if rng.random() < 0.6 else text(rng, rng.choice((20, 200, 5000)))


def json_value(rng: random.Random, depth: int = 0):
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return scanned_text(rng) if rng.random() < 0.3 else text(rng, 40)
    if kind == "int":
        return rng.choice((0, -1, 2 ** 63, -(2 ** 70), rng.randrange(-1000, 1000)))
    if kind == "float":
        return rng.choice((0.5, -1e308, 1e308, rng.random()))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {text(rng, 10): json_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def json_body(rng: random.Random, fields: tuple[str, ...]) -> bytes:
    """A request body: mostly the expected keys with wrong values, sometimes not an object or not JSON at all."""
    import json

    roll = rng.random()
    if roll < 0.1:
        return text(rng, 100).encode("utf-8", "surrogatepass")
    if roll < 0.2:
        return json.dumps(json_value(rng)).encode()
    body = {f: json_value(rng) for f in fields if rng.random() < 0.8}
    return json.dumps(body).encode()


def toml_document(rng: random.Random, valid: str) -> str:
    """A configuration file damaged by hand-editing: lines cut, values retyped, keys misspelt, syntax broken."""
    lines = valid.splitlines()
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        line = lines[i]
        action = rng.choice(("value", "key", "cut", "garbage", "section", "dup"))
        if action == "value" and "=" in line:
            key = line.split("=", 1)[0]
            lines[i] = key + "= " + rng.choice(('"x"', "-5", "1e999", "true", "[1, 2]", "{a = 1}", '""', "0",
                                                 "99999999999999999999", '"\\u0000"', "nan", "'a'"))
        elif action == "key" and "=" in line:
            key, value = line.split("=", 1)
            lines[i] = key.strip()[::-1] + " =" + value
        elif action == "cut":
            lines[i] = line[: rng.randrange(len(line) + 1)]
        elif action == "garbage":
            lines.insert(i, text(rng, 30).replace("\r", "").replace("\n", ""))
        elif action == "section":
            lines.insert(i, rng.choice(("[camera", "[[kiosk]]", "[nosuch]", "[kiosk.extra]", "[]")))
        else:
            lines.insert(i, line)
    return "\n".join(lines) + "\n"
