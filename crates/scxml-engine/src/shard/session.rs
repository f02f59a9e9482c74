//! A session's life on its shard: created, run for one macrostep (or its start), woken from
//! the store, cancelled from outside, done, and forgotten.

use super::*;

impl Shard {
    pub(super) fn create_session(
        &mut self,
        doc: Arc<Document>,
        mut options: SessionOptions,
        create: CreateOptions,
        parent: Option<(String, String)>,
    ) -> String {
        if options.session_id.is_empty() {
            options.session_id = self.router.new_session_id(self.index);
        }
        let id = options.session_id.clone();
        if let Some(prefix) = &self.router.config.basichttp_prefix {
            let location = format!("{prefix}{id}");
            options
                .io_processors
                .push(("basichttp".into(), location.clone()));
            options
                .io_processors
                .push((BASIC_HTTP_EVENT_PROCESSOR.into(), location));
        }
        let interpreter = Interpreter::new(doc.clone(), options);
        self.router.register(&id);
        self.router
            .stats
            .sessions_created
            .fetch_add(1, Ordering::Relaxed);
        self.live.insert(id.clone());
        self.sessions.insert(
            id.clone(),
            Slot {
                interpreter: Some(Box::new(interpreter)),
                hibernated: false,
                doc,
                links: Links::new(parent),
                create,
                outbox: VecDeque::new(),
                http_in_flight: false,
                trace: None,
                trace_seq: 0,
                events_processed: 0,
                last_active: Instant::now(),
                last_configuration: Vec::new(),
                running: true,
                failure: None,
                blocked: None,
                final_view: None,
            },
        );
        id
    }

    /// Starts a session, runs one event through it, or ends it as failed, then applies its
    /// effects.
    pub(super) fn run_session(&mut self, id: &str, step: Step) {
        if !self.wake(id) {
            return;
        }
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        if matches!(&step, Step::Event(e) if !slot.links.accepts(e)) {
            return;
        }
        let Some(mut interpreter) = slot.interpreter.take() else {
            return;
        };
        let started = std::time::Instant::now();
        let event_name = match &step {
            Step::Event(e) => Some(e.name.clone()),
            Step::Start | Step::Fail(_) => None,
        };
        // The event's data, for a trace someone follows (not copied otherwise).
        let traced = slot.trace.as_ref().is_some_and(|t| t.receiver_count() > 0);
        let event_data = match &step {
            Step::Event(e) if traced => e.data.clone(),
            _ => None,
        };
        let mut host = ShardHost::new(id, &mut slot.links, &self.router);
        {
            let _busy = self.watch.busy(self.router.epoch, id);
            match step {
                Step::Start => interpreter.start(&mut host),
                Step::Event(e) => {
                    slot.events_processed += 1;
                    interpreter.process_event(e, &mut host);
                }
                Step::Fail(failure) => interpreter.fail(failure, &mut host),
            }
        }
        if self.watch.abandoned() {
            // Given up on while this ran: the replacement owns the session; nothing of this
            // macrostep leaves the thread.
            return;
        }
        let ShardHost { effects, logs, .. } = host;
        // The sink sees them once the slot is let go (it needs the invocation tree).
        let sink_logs =
            (self.router.config.log_sink.is_some() && !logs.is_empty()).then(|| logs.clone());
        let stats = &self.router.stats;
        stats.record_macrostep(started.elapsed().as_micros() as u64);
        if event_name.is_some() {
            stats.events_processed.fetch_add(1, Ordering::Relaxed);
        }
        slot.last_configuration = interpreter.configuration();
        slot.running = interpreter.is_running();
        if let Some(failure) = interpreter.failure() {
            if slot.failure.is_none() {
                tracing::warn!(session = id, %failure, "session failed");
                slot.failure = Some(failure.clone());
            }
        }
        slot.last_active = Instant::now();
        if let Some(trace) = &slot.trace {
            if trace.receiver_count() > 0 {
                slot.trace_seq += 1;
                let _ = trace.send(TraceRecord {
                    seq: slot.trace_seq,
                    event: event_name,
                    data: event_data,
                    configuration: interpreter
                        .active_ids()
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                    logs: logs
                        .into_iter()
                        .map(|(label, message)| match label {
                            Some(l) => format!("{l}: {message}"),
                            None => message,
                        })
                        .collect(),
                    errors: interpreter
                        .macrostep_errors()
                        .iter()
                        .map(|e| serde_json::json!({"name": e.name, "data": e.data}))
                        .collect(),
                    transitions: interpreter.macrostep_transitions().to_vec(),
                    status: slot.status(),
                });
            }
        }
        let halted = !slot.running;
        let is_root = slot.links.parent().is_none();
        slot.interpreter = Some(interpreter);
        // Before the effects, which may end the session and unlink it from its parent.
        let root = sink_logs.as_ref().map(|_| root_of(&self.sessions, id));
        self.dirty.insert(id.to_string());
        self.apply(id, effects);
        if halted {
            self.live.remove(id);
        }
        if halted && is_root {
            self.timers.remove_session(id);
            self.expiries
                .push_back((Instant::now() + DONE_RETENTION, id.to_string()));
            self.finished.push(id.to_string());
        }
        if let (Some(logs), Some(root)) = (sink_logs, root) {
            self.to_log_sink(id, &root, &logs);
        }
    }

    /// Hands a macrostep's `<log>`s to the configured sink.
    pub(super) fn to_log_sink(&self, id: &str, root: &str, logs: &[(Option<String>, String)]) {
        let Some(sink) = &self.router.config.log_sink else {
            return;
        };
        for (label, message) in logs {
            sink.log(&SessionLog {
                session: id,
                root,
                label: label.as_deref(),
                message,
            });
        }
    }

    /// Brings a hibernated session back from its stored record. False when it cannot be.
    pub(super) fn wake(&mut self, id: &str) -> bool {
        let Some(slot) = self.sessions.get(id) else {
            return false;
        };
        if !slot.hibernated {
            return true;
        }
        let doc = slot.doc.clone();
        let restored = self
            .router
            .config
            .store
            .get(Table::SESSIONS, id)
            .map_err(|e| e.to_string())
            .and_then(|bytes| bytes.ok_or_else(|| "no stored record".to_string()))
            .and_then(|bytes| {
                serde_json::from_slice::<SessionRecord>(&bytes).map_err(|e| e.to_string())
            })
            .and_then(|record| {
                Interpreter::restore(doc, &record.snapshot).map_err(|e| e.to_string())
            });
        match restored {
            Ok(mut interpreter) => {
                interpreter.set_limits(self.router.config.limits);
                if let Some(slot) = self.sessions.get_mut(id) {
                    slot.interpreter = Some(Box::new(interpreter));
                    slot.hibernated = false;
                }
                self.live.insert(id.to_string());
                self.router.stats.hibernated.fetch_sub(1, Ordering::Relaxed);
                true
            }
            Err(reason) => {
                tracing::error!(session = %id, %reason, "cannot restore a hibernated session");
                false
            }
        }
    }

    /// Ends a session from outside: exits its states (their onexit runs, its invocations
    /// are cancelled) without reporting done, and forgets it.
    pub(super) fn cancel_session(&mut self, id: &str) {
        if self.wake(id) {
            if let Some(slot) = self.sessions.get_mut(id) {
                if let Some(mut interpreter) = slot.interpreter.take() {
                    let mut host = ShardHost::new(id, &mut slot.links, &self.router);
                    interpreter.cancel(&mut host);
                    let ShardHost { effects, logs, .. } = host;
                    slot.interpreter = Some(interpreter);
                    // Its onexit handlers may log on the way out.
                    if self.router.config.log_sink.is_some() && !logs.is_empty() {
                        let root = root_of(&self.sessions, id);
                        self.to_log_sink(id, &root, &logs);
                    }
                    // Only cancellations of its own invocations matter now; its sends die
                    // with it.
                    for effect in effects {
                        if let Effect::CancelInvoke(invokeid) = effect {
                            self.cancel_invoke(id, &invokeid);
                        }
                    }
                }
            }
        }
        self.remove_session(id);
    }

    pub(super) fn session_done(&mut self, id: &str, donedata: Option<Value>) {
        let Some(slot) = self.sessions.get(id) else {
            return;
        };
        let Some((parent, invokeid)) = slot.links.parent().cloned() else {
            return;
        };
        let done = self
            .sessions
            .get_mut(&parent)
            .and_then(|p| p.links.child_done(&invokeid, donedata));
        if let Some(event) = done {
            self.dirty.insert(parent.clone());
            self.route(parent, event);
        }
        self.remove_session(id);
    }

    /// Forgets a session, its timers and its child sessions.
    pub(super) fn remove_session(&mut self, id: &str) {
        let Some(slot) = self.sessions.remove(id) else {
            return;
        };
        if slot.hibernated {
            self.router.stats.hibernated.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.live.remove(id);
        }
        self.dirty.insert(id.to_string());
        self.router.unregister(id);
        self.timers.remove_session(id);
        self.ready.retain(|(k, _)| k != id);
        for child in slot.links.into_children() {
            match child {
                Child::Session(k) => self.cancel_session(&k),
                Child::Service { mut service, .. } => service.cancel(),
                Child::Fetching { .. } => {}
            }
        }
    }
}

/// The session at the top of `id`'s invocation tree (its children live on its shard).
pub(super) fn root_of(sessions: &HashMap<String, Slot>, id: &str) -> String {
    let mut root = id;
    while let Some((parent, _)) = sessions.get(root).and_then(|s| s.links.parent()) {
        root = parent;
    }
    root.to_string()
}
