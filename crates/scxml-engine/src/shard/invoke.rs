//! Invocations: SCXML child sessions (their `src` documents read on the blocking pool, never
//! on the shard thread) and custom invoke types, started, cancelled, and resumed after a
//! restart.

use super::*;

impl Shard {
    pub(super) fn start_invoke(&mut self, parent: &str, request: InvokeRequest) {
        let invokeid = request.invokeid.clone();
        if is_scxml_invoke_type(&request.kind) {
            if needs_fetch(&request.source) {
                self.fetch_child_document(parent, request);
                return;
            }
            let base = self.base_url_of(parent);
            let result = child_document(&request.source, base.as_ref(), self.resolver())
                .map_err(|e| e.to_string());
            self.start_child_session(parent, request, result, Vec::new());
            return;
        }
        let Some(service) = self
            .router
            .config
            .registry
            .invoke_type(&request.kind)
            .cloned()
        else {
            self.route(
                parent.to_string(),
                Event::platform(
                    "error.execution",
                    Some(Value::String(format!(
                        "unsupported invoke type {}",
                        request.kind
                    ))),
                ),
            );
            return;
        };
        let sink = Arc::new(RouterSink::new(&self.router, parent, Some(&invokeid)));
        let kind = request.kind.clone();
        match service.start(request, sink) {
            Ok(service) => {
                if let Some(slot) = self.sessions.get_mut(parent) {
                    slot.links.start(invokeid, Child::Service { kind, service });
                }
            }
            Err(error) => self.route(
                parent.to_string(),
                Event::platform("error.execution", Some(Value::String(error.to_string()))),
            ),
        }
    }

    /// Reads an `<invoke src>` document on the blocking pool: the fetch may take as long as
    /// the remote server makes it, and the shard's other sessions must not wait for it.
    pub(super) fn fetch_child_document(&mut self, parent: &str, request: InvokeRequest) {
        let Some(slot) = self.sessions.get_mut(parent) else {
            return;
        };
        slot.links.start(
            request.invokeid.clone(),
            Child::Fetching {
                pending: Vec::new(),
            },
        );
        let resolver = self.router.config.resolver.clone();
        let done = self.completions.clone();
        let parent = parent.to_string();
        tokio::task::spawn_blocking(move || {
            let result =
                child_document(&request.source, None, resolver.as_ref()).map_err(|e| e.to_string());
            let _ = done.send(Completion::ChildDocument {
                parent,
                request,
                result,
            });
        });
    }

    /// The document of an `<invoke src>` arrived: the child starts, unless its invocation
    /// was cancelled (or its parent ended) meanwhile.
    pub(super) fn child_document_fetched(
        &mut self,
        parent: &str,
        request: InvokeRequest,
        result: Result<Arc<Document>, String>,
    ) {
        let Some(slot) = self.sessions.get_mut(parent) else {
            return;
        };
        let Some(pending) = slot.links.take_fetching(&request.invokeid) else {
            return;
        };
        self.start_child_session(parent, request, result, pending);
        self.drain_ready();
        self.commit();
    }

    /// Starts the child session of an SCXML invocation (or reports why it cannot), then
    /// hands it the events its parent sent it before it ran.
    pub(super) fn start_child_session(
        &mut self,
        parent: &str,
        request: InvokeRequest,
        doc: Result<Arc<Document>, String>,
        pending: Vec<Event>,
    ) {
        let invokeid = request.invokeid.clone();
        let doc = match doc {
            Ok(doc) => doc,
            Err(message) => {
                self.route(
                    parent.to_string(),
                    Event::platform(
                        "error.execution",
                        Some(scxml::interpreter::error_data(
                            Some("invoke"),
                            None,
                            &message,
                        )),
                    ),
                );
                return;
            }
        };
        let options = SessionOptions {
            initial_data: request.params,
            limits: self.router.config.limits,
            ..SessionOptions::default()
        };
        let child = self.create_session(
            doc,
            options,
            CreateOptions::default(),
            Some((parent.to_string(), invokeid.clone())),
        );
        if let Some(slot) = self.sessions.get_mut(parent) {
            slot.links.start(invokeid, Child::Session(child.clone()));
        }
        self.dirty.insert(parent.to_string());
        self.run_session(&child, Step::Start);
        for event in pending {
            self.route(child.clone(), event);
        }
    }

    pub(super) fn cancel_invoke(&mut self, parent: &str, invokeid: &str) {
        let Some(slot) = self.sessions.get_mut(parent) else {
            return;
        };
        let Some(child) = slot.links.cancel(invokeid) else {
            return;
        };
        match child {
            Child::Session(child) => self.cancel_session(&child),
            Child::Service { mut service, .. } => service.cancel(),
            Child::Fetching { .. } => {}
        }
    }

    /// Brings back a custom service of a session loaded from the store. A service that
    /// cannot be resumed is reported to the session as `error.execution`, as a failed start
    /// would be, so the flow can decide what to do.
    pub(super) fn resume_service(
        &mut self,
        session: &str,
        record: ServiceRecord,
    ) -> Option<Child<String>> {
        let sink = Arc::new(RouterSink::new(
            &self.router,
            session,
            Some(&record.invokeid),
        ));
        let resumed = match self.router.config.registry.invoke_type(&record.kind) {
            Some(kind) => kind.resume(&record.invokeid, record.state, sink),
            None => Err(InvokeError::UnsupportedType(record.kind.clone())),
        };
        match resumed {
            Ok(service) => Some(Child::Service {
                kind: record.kind,
                service,
            }),
            Err(reason) => {
                tracing::error!(%session, invokeid = %record.invokeid, %reason,
                    "cannot resume an invocation");
                let message = format!("invocation {} was lost: {reason}", record.invokeid);
                let _ = self.router.deliver(
                    session,
                    Event::platform(
                        "error.execution",
                        Some(scxml::interpreter::error_data(
                            Some("invoke"),
                            None,
                            &message,
                        )),
                    ),
                );
                None
            }
        }
    }
}
