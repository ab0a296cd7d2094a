"""The modules' own operations in the OpenAPI document: sales targets (app/api/targets.py),
the knowledge base search (app/api/kb.py) and duplicates (app/api/duplicates.py). Each is
documented only for a caller who may use it: targets and articles for those who may read
them, duplicates for the entities with duplicate rules the caller may merge."""

from __future__ import annotations

from typing import Any

from app.api.openapi import _ref, _responses
from app.dedupe.dismiss import MAX_RECORDS
from app.dedupe.plan import MAX_LOSERS
from app.kb.search import ARTICLE, MAX_LIMIT
from app.records import Records

_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_NUMBER = {"type": ["number", "null"]}
_PERIOD = {"name": "period", "in": "query", "required": False, "schema": {
    "type": "string", "maxLength": 40},
    "description": "2026-Q4, 2026-11, this_quarter, last_month ... (default: this quarter)."}
_METRIC = {"name": "metric", "in": "query", "required": False, "schema": {
    "type": "string", "maxLength": 64}, "description": "A metric's name (default: the first)."}


def _line(kind: str) -> dict[str, Any]:
    common: dict[str, Any] = {
        "kind": {"type": "string", "enum": [kind]}, "name": {"type": "string"},
        "rank": {"type": ["integer", "null"], "description": "Null: no target set."},
        "percent": {**_NUMBER, "description": "Attainment in percent."},
        "amounts": {"type": "boolean",
                    "description": "Whether the caller may see the amounts (target, actual)."},
        "target": _NUMBER, "actual": _NUMBER, "target_id": {"type": ["integer", "null"]}}
    if kind == "rep":
        common.update({"user_id": {"type": "integer"},
                       "teams": {"type": "array", "items": {"type": "string"}}})
    else:
        common.update({"team": {"type": "string"}, "members": {"type": "integer"},
                       "target_from_reps": {"type": "boolean"}})
    return {"type": "object", "required": ["kind", "name", "rank", "percent", "amounts"],
            "properties": common}


def module_schemas() -> dict[str, Any]:
    board = {
        "period": {"type": "string"}, "period_label": {"type": "string"},
        "period_type": {"type": "string", "enum": ["month", "quarter"]},
        "start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"},
        "metric": {"type": "string"}, "metric_label": {"type": "string"},
        "kind": {"type": "string"}, "amounts": {"type": "boolean"},
        "teams": {"type": "array", "items": _ref("TargetTeamLine")}}
    reps = {"type": "array", "items": _ref("TargetRepLine")}
    return {
        "TargetRepLine": _line("rep"),
        "TargetTeamLine": _line("team"),
        "TargetMetrics": {"type": "object", "required": ["data"], "properties": {"data": {
            "type": "array", "items": {"type": "object", "required": ["name", "label"],
                                       "properties": {"name": {"type": "string"},
                                                      "label": {"type": "string"},
                                                      "entity": {"type": "string"},
                                                      "kind": {"type": "string"}}}}}},
        "TargetAttainment": {"type": "object", "required": ["period", "metric", "reps", "teams"],
                             "properties": {**board, "reps": reps}},
        "TargetLeaderboard": {"type": "object",
                              "required": ["period", "metric", "ranking", "unranked", "teams"],
                              "properties": {**board, "ranking": reps, "unranked": reps}},
        "KbSearch": {"type": "object", "required": ["data", "count", "limit", "offset"],
                     "properties": {
                         "data": {"type": "array", "items": {
                             "type": "object", "required": ["id", "title", "url"],
                             "properties": {
                                 "id": {"type": "integer"}, "title": {"type": "string"},
                                 "summary": {"type": ["string", "null"]},
                                 "status": {"type": ["string", "null"]},
                                 "language": {"type": ["string", "null"]},
                                 "category": {"type": ["object", "null"]},
                                 "usage_count": {"type": ["integer", "null"]},
                                 "updated_at": {"type": ["string", "null"]},
                                 "published_at": {"type": ["string", "null"]},
                                 "url": {"type": "string"}}}},
                         "count": {"type": "integer",
                                   "description": "How many articles match in all."},
                         "limit": {"type": "integer"}, "offset": {"type": "integer"}}},
        "DuplicateGroups": {"type": "object", "required": ["data"], "properties": {"data": {
            "type": "array", "items": {
                "type": "object", "required": ["rule", "key", "ids", "records"],
                "properties": {"rule": {"type": "string"}, "key": {"type": "array"},
                               "ids": {"type": "array", "items": {"type": "integer"}},
                               "records": {"type": "array", "items": {"type": "object"}}}}}}},
        "MergeRequest": {"type": "object", "additionalProperties": False,
                         "required": ["survivor", "losers"], "properties": {
                             "survivor": _ID,
                             "losers": {"type": "array", "minItems": 1, "maxItems": MAX_LOSERS,
                                        "items": _ID},
                             "choices": {"type": "object", "additionalProperties": _ID,
                                         "description": "Field (or owner) -> the id of the "
                                                        "record whose value the survivor "
                                                        "keeps."},
                             "versions": {"type": "object",
                                          "additionalProperties": {"type": "integer"},
                                          "description": "Record id -> the version the "
                                                         "caller saw (a stale one: 409)."}}},
        "Merged": {"type": "object", "required": ["survivor", "merged", "data"], "properties": {
            "entity": {"type": "string"}, "survivor": {"type": "integer"},
            "merged": {"type": "array", "items": {"type": "integer"}},
            "taken": {"type": "object", "description": "Field -> the record it came from."},
            "moved": {"type": "object", "additionalProperties": {"type": "integer"},
                      "description": "Entity -> how many related records moved over."},
            "attachments": {"type": "integer"},
            "data": {"type": "object", "description": "The survivor as it is now."}}},
        "Dismiss": {"type": "object", "additionalProperties": False, "required": ["ids"],
                    "properties": {"ids": {"type": "array", "minItems": 2, "maxItems": MAX_RECORDS,
                                           "items": _ID}}},
        "Dismissed": {"type": "object", "required": ["dismissed_pairs"],
                      "properties": {"dismissed_pairs": {"type": "integer"}}},
    }


def module_paths(records: Records) -> dict[str, Any]:
    """The operations the caller of `records` may use."""
    from app.dedupe.find import mergeable
    from app.targets.service import TARGET_ENTITY, metrics_of

    acc = records.access()
    paths: dict[str, Any] = {}
    if TARGET_ENTITY in records.meta.entities and acc.allows(TARGET_ENTITY, "read") \
            and metrics_of(records):
        tags = ["targets"]
        paths["/targets/metrics"] = {"get": {
            "operationId": "targets_metrics", "summary": "The metrics targets are set on",
            "tags": tags, "responses": _responses("200", "TargetMetrics")}}
        for name, schema, summary in (
                ("attainment", "TargetAttainment", "Target, actual and attainment per rep "
                                                   "and team"),
                ("leaderboard", "TargetLeaderboard", "Reps ranked by attainment")):
            paths[f"/targets/{name}"] = {"get": {
                "operationId": f"targets_{name}", "summary": summary, "tags": tags,
                "parameters": [_PERIOD, _METRIC],
                "responses": _responses("200", schema, "404")}}
    if ARTICLE in records.meta.entities and acc.allows(ARTICLE, "read"):
        number = {"type": "integer", "minimum": 1}
        paths["/kb/search"] = {"get": {
            "operationId": "kb_search", "summary": "Search the published knowledge base",
            "tags": [ARTICLE], "parameters": [
                {"name": "q", "in": "query", "required": False,
                 "schema": {"type": "string", "maxLength": 200}},
                {"name": "category", "in": "query", "required": False, "schema": _ID},
                {"name": "language", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["en", "zh"]}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {**number, "maximum": MAX_LIMIT}},
                {"name": "offset", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0, "maximum": 100_000}}],
            "responses": _responses("200", "KbSearch")}}
    for e in mergeable(records, records.actor):
        tags = [e.name]
        paths[f"/{e.name}/duplicates"] = {"get": {
            "operationId": f"{e.name}_duplicates", "summary": f"Duplicate {e.plural_for('en')}",
            "tags": tags, "parameters": [
                {"name": "rule", "in": "query", "required": False,
                 "schema": {"type": "string", "maxLength": 64}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
            "responses": _responses("200", "DuplicateGroups", "404")}}
        paths[f"/{e.name}/merge"] = {"post": {
            "operationId": f"{e.name}_merge",
            "summary": f"Merge {e.plural_for('en')} into a survivor", "tags": tags,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("MergeRequest")}}},
            "responses": _responses("200", "Merged", "404", "409", "415", "422")}}
        paths[f"/{e.name}/duplicates/dismiss"] = {"post": {
            "operationId": f"{e.name}_duplicates_dismiss",
            "summary": "Mark records as not duplicates of each other", "tags": tags,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("Dismiss")}}},
            "responses": _responses("200", "Dismissed", "404", "415", "422")}}
    return paths
