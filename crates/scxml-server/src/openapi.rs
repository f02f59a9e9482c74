//! The OpenAPI 3 description of the HTTP API, served at `GET /openapi.json`.

use serde_json::{json, Value};

pub(crate) fn document() -> Value {
    let mut doc = described();
    // Who may call what: the administrator's token everywhere unless a path says otherwise
    // (see `crate::auth`); the public routes need none.
    doc["components"]["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (`scxml token`, or the administrator token made at first start)"},
        "basic": {"type": "http", "scheme": "basic", "description": "the credential's name as user, its token as password"}
    });
    doc["security"] = json!([{"bearer": []}, {"basic": []}]);
    for public in [
        "/healthz",
        "/openapi.json",
        "/basichttp/{id}",
        "/",
        "/pages/{file}",
    ] {
        if let Some(path) = doc["paths"].get_mut(public).and_then(Value::as_object_mut) {
            for operation in path.values_mut() {
                operation["security"] = json!([]);
            }
        }
    }
    if let Some(get) = doc["paths"]["/metrics"].get_mut("get") {
        get["description"] = json!("An operator's or administrator's credentials.");
    }
    for path in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        for operation in path
            .as_object_mut()
            .into_iter()
            .flat_map(|o| o.values_mut())
        {
            if operation.get("security") != Some(&json!([])) {
                operation["responses"]["401"] = json!({"description": "no credentials, or credentials that match none", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
            }
        }
    }
    doc
}

/// The routes, their bodies and answers.
fn described() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let session = json!({"$ref": "#/components/schemas/Session"});
    let id_param =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let err = |description: &str| json!({"description": description, "content": {"application/json": {"schema": error}}});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "scxml-runtime interpreter server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Runs SCXML sessions: create them from a document, send them events, inspect and trace them. Every error answer is a JSON object {error, message}."
        },
        "paths": {
            "/sessions": {
                "post": {
                    "summary": "Start a session of a document (by URL or inline) and run it to its first stable configuration",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {
                            "url": {"type": "string", "description": "path, file:, http: or https: URL under an allowed prefix"},
                            "document": {"type": "string", "description": "the SCXML text"},
                            "data": {"type": "object", "description": "values overriding the document's <data>"}
                        }
                    }}}},
                    "responses": {
                        "201": {"description": "created", "content": {"application/json": {"schema": session}}},
                        "400": err("malformed request"),
                        "403": err("document URL not allowed"),
                        "413": err("body or document too large"),
                        "422": err("invalid or unavailable document; `problems` lists each with file, line and column"),
                        "503": err("session limit reached")
                    }
                },
                "get": {
                    "summary": "List sessions",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["running", "hibernated", "done", "failed"]}},
                        {"name": "name", "in": "query", "schema": {"type": "string"}},
                        {"name": "state", "in": "query", "description": "an active atomic state", "schema": {"type": "string"}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": {"200": {"description": "a page of sessions", "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
                                        "sessions": {"type": "array", "items": {"type": "object"}}}
                    }}}}, "400": err("bad query")}
                }
            },
            "/sessions/{id}": {
                "parameters": [id_param],
                "get": {"summary": "Inspect a session", "responses": {"200": {"description": "the session", "content": {"application/json": {"schema": session}}}, "404": err("unknown session")}},
                "delete": {"summary": "End a session (its invocations are cancelled)", "responses": {"204": {"description": "ended"}, "404": err("unknown session")}}
            },
            "/sessions/{id}/events": {
                "parameters": [id_param],
                "post": {
                    "summary": "Send an external event; answered once it is processed and stored",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["name"],
                        "properties": {"name": {"type": "string"}, "data": {}, "wait": {"type": "boolean", "description": "answer with the session"}}
                    }}}},
                    "responses": {"200": {"description": "processed (wait=true)", "content": {"application/json": {"schema": session}}},
                                  "202": {"description": "accepted"}, "400": err("malformed request"), "404": err("unknown session")}
                }
            },
            "/sessions/{id}/trace": {
                "parameters": [id_param],
                "get": {"summary": "Server-sent events: one `macrostep` event per macrostep (event, configuration, logs)",
                        "responses": {"200": {"description": "text/event-stream"}, "404": err("unknown session")}}
            },
            "/sessions/{id}/chart": {
                "parameters": [id_param],
                "get": {"summary": "The chart of the session's document: states (kind, parent, children, initial targets) and transitions (events, condition, targets), with lines and columns",
                        "responses": {"200": {"description": "the chart", "content": {"application/json": {"schema": {"type": "object"}}}}, "404": err("unknown session")}}
            },
            "/": {"get": {"summary": "The landing page: what the server is, its pages, its health", "responses": {"200": {"description": "text/html"}}}},
            "/pages/{file}": {
                "parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "The pages' HTML, CSS and JavaScript (built into the binary; the data they show comes from the API, with the caller's credentials)",
                        "responses": {"200": {"description": "the file"}, "404": err("no such file")}}
            },
            "/basichttp/{id}": {
                "parameters": [id_param],
                "post": {"summary": "The Basic HTTP Event I/O Processor: a form POST becomes an event (`_scxmleventname`, else HTTP.POST)",
                         "responses": {"204": {"description": "delivered"}, "404": err("unknown session")}}
            },
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text/plain"}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string"}, "message": {"type": "string"},
                "problems": {"type": "array", "items": {"type": "object", "properties": {
                    "file": {"type": "string"}, "line": {"type": "integer"}, "column": {"type": "integer"}, "message": {"type": "string"}}}}
            }},
            "Session": {"type": "object", "properties": {
                "id": {"type": "string"}, "status": {"type": "string", "enum": ["running", "hibernated", "done", "failed"]},
                "name": {"type": "string", "nullable": true}, "document": {"type": "string", "nullable": true},
                "configuration": {"type": "array", "items": {"type": "string"}},
                "active_states": {"type": "array", "items": {"type": "string"}},
                "final_state": {"type": "string", "nullable": true}, "failure": {"type": "string", "description": "why it failed, when its status is failed"}, "datamodel": {"type": "object"},
                "pending_sends": {"type": "array", "items": {"type": "object", "properties": {
                    "sendid": {"type": "string"}, "event": {"type": "string"}, "due_in_ms": {"type": "integer"}}}},
                "invokes": {"type": "array", "items": {"type": "string"}},
                "events_processed": {"type": "integer"},
                "not_persisted": {"type": "string", "description": "why the session cannot be persisted or hibernated"}
            }}
        }}
    })
}
