"""GET /fhir/R4/metadata and GET /fhir/R4/Immunization?date=…: central.fhir served read-only, with the access
rule of /api/fleet (open on a loopback-only listener, a bearer token elsewhere)."""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, request, url_for

from central import fhir
from central.web.auth import machine_readable

bp = Blueprint("fhir", __name__, url_prefix="/fhir/R4")


def _answer(resource: dict, status: int = 200) -> Response:
    return Response(json.dumps(resource, ensure_ascii=False), status=status, mimetype=fhir.MEDIA_TYPE)


@bp.get("/metadata")
@machine_readable
def metadata():
    return _answer(fhir.capability_statement(time.time()))


@bp.get("/Immunization")
@machine_readable
def immunizations():
    ops = current_app.extensions["ops"]
    args = {k: request.args.getlist(k)[-1] for k in request.args}
    if any(len(request.args.getlist(k)) > 1 for k in request.args):
        return _answer(fhir.operation_outcome("each search parameter may be given once"), 400)
    try:
        day, count, cursor = fhir.parse_search(args)
    except fhir.BadSearch as exc:
        return _answer(fhir.operation_outcome(str(exc)), 400)

    def page_url(after: str) -> str:
        extra = {"_cursor": after} if after else {}
        return url_for("fhir.immunizations", date=day, _count=count, _external=True, **extra)

    return _answer(fhir.search_bundle(ops.store, ops.config.site_by_id, day, count, cursor, page_url))
