//! Group commit and restore: the records of every session a burst touched are written in
//! one transaction before any answer leaves, and at start the shard brings its sessions back
//! from the store, hibernated, with their timers due at the same wall-clock time.

use super::*;

impl Shard {
    /// Writes the records of every session changed since the last commit in one
    /// transaction, then sends the answers that waited for it.
    pub(super) fn commit(&mut self) {
        if !self.dirty.is_empty() || !self.oversized.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            let durable = self.router.config.store.durable();
            let mut batch = Vec::with_capacity(dirty.len());
            let mut new_documents = Vec::new();
            for id in dirty {
                let (live, running) = self
                    .sessions
                    .get(&id)
                    .map_or((false, false), |s| (s.interpreter.is_some(), s.running));
                if !durable && live && running {
                    // Changed: the next hibernation tries to persist it again.
                    if let Some(slot) = self.sessions.get_mut(&id) {
                        slot.blocked = None;
                    }
                    if self.unsaved.insert(id.clone()) {
                        // A record from an earlier hibernation is behind now: it goes, so
                        // that only current records are ever brought back (by a
                        // replacement worker, see `watchdog`).
                        batch.push(Write {
                            table: Table::SESSIONS,
                            key: id,
                            value: None,
                        });
                    }
                    continue;
                }
                self.unsaved.remove(&id);
                if !durable && live {
                    // Done, so it never hibernates: a store that does not outlive the
                    // process keeps nothing of it (nor a record from an earlier hibernation).
                    batch.push(Write {
                        table: Table::SESSIONS,
                        key: id,
                        value: None,
                    });
                    continue;
                }
                // Gone, or not restorable (kept live, with the reason): the stale record goes.
                if !matches!(
                    self.batch_record(&id, &mut batch, &mut new_documents),
                    Ok(true)
                ) {
                    batch.push(Write {
                        table: Table::SESSIONS,
                        key: id,
                        value: None,
                    });
                }
            }
            // Sessions that grew past what they may keep end now, before anything about
            // them is answered; their (halted) records go in the same transaction.
            for (id, bytes, limit) in std::mem::take(&mut self.oversized) {
                let failure = Failure::Host {
                    reason: format!(
                        "its datamodel grew to a {bytes}-byte record, more than the {limit} bytes a session may keep"
                    ),
                };
                self.run_session(&id, Step::Fail(failure));
                self.dirty.remove(&id);
                let _ = self.batch_record(&id, &mut batch, &mut new_documents);
            }
            match self.router.config.store.apply(&batch) {
                Ok(()) => self.stored_documents.extend(new_documents),
                Err(e) => tracing::error!(shard = self.index, error = %e, "commit failed"),
            }
        }
        for answer in std::mem::take(&mut self.deferred) {
            answer(self);
        }
    }

    /// Adds a session's record to `batch` (with its document's, noted in `new_documents`,
    /// when the store does not have it yet): `Ok(false)` when the session no longer exists.
    /// A session that cannot be persisted is marked blocked, with the reason, and is `Err`.
    pub(super) fn batch_record(
        &mut self,
        id: &str,
        batch: &mut Vec<Write>,
        new_documents: &mut Vec<String>,
    ) -> Result<bool, ()> {
        match self.record_of(id) {
            Ok(Some((record, doc_write))) => {
                if let Some((key, write)) = doc_write {
                    new_documents.push(key);
                    batch.push(write);
                }
                batch.push(Write {
                    table: Table::SESSIONS,
                    key: id.to_string(),
                    value: Some(record),
                });
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(NotPersisted::TooLarge { bytes, limit }) => {
                self.oversized.push((id.to_string(), bytes, limit));
                Err(())
            }
            Err(reason) => {
                if let Some(slot) = self.sessions.get_mut(id) {
                    slot.blocked = Some(reason);
                }
                Err(())
            }
        }
    }

    /// The serialised record of a session (`None` when it no longer exists), and its
    /// document's record when the store does not have it yet.
    #[allow(clippy::type_complexity)]
    pub(super) fn record_of(
        &mut self,
        id: &str,
    ) -> Result<Option<(Vec<u8>, Option<(String, Write)>)>, NotPersisted> {
        let now = Instant::now();
        let now_wall = SystemTime::now();
        let timers: Vec<TimerRecord> = self
            .timers
            .pending_of(id)
            .into_iter()
            .map(|(t, due)| TimerRecord {
                sendid: t.sendid.clone(),
                to: t.to.clone(),
                event: t.event.clone(),
                basichttp: t.basichttp,
                due_unix_ms: record::instant_to_unix_ms(due, now, now_wall),
            })
            .collect();
        let Some(slot) = self.sessions.get_mut(id) else {
            return Ok(None);
        };
        let Some(interpreter) = slot.interpreter.as_mut() else {
            // Hibernated, and one of its delayed sends fired: only its timers changed.
            let bytes = self
                .router
                .config
                .store
                .get(Table::SESSIONS, id)?
                .ok_or(NotPersisted::Missing)?;
            let mut record: SessionRecord = serde_json::from_slice(&bytes)?;
            record.timers = timers;
            let bytes = serde_json::to_vec(&record)?;
            return Ok(Some((bytes, None)));
        };
        let services = persist_services(&slot.links)?;
        let snapshot = interpreter
            .snapshot()
            .map_err(|e| NotPersisted::Snapshot(e.to_string()))?;
        let address = Arc::as_ptr(&slot.doc) as usize;
        let doc_key = match self.document_keys.get(&address) {
            Some((known, key)) if known.upgrade().is_some_and(|d| Arc::ptr_eq(&d, &slot.doc)) => {
                key.clone()
            }
            _ => {
                let key = record::document_key(&slot.doc).ok_or(NotPersisted::NoSource)?;
                self.document_keys
                    .insert(address, (Arc::downgrade(&slot.doc), key.clone()));
                key
            }
        };
        let doc_write = if self.stored_documents.contains(&doc_key) {
            None
        } else {
            let doc = DocumentRecord {
                url: slot.doc.base_url.as_ref().map(|u| u.to_string()),
                text: slot.doc.source.as_deref().unwrap_or_default().to_string(),
                fetched: slot
                    .doc
                    .fetched
                    .iter()
                    .map(|(url, text)| (url.to_string(), text.to_string()))
                    .collect(),
            };
            let bytes = serde_json::to_vec(&doc)?;
            Some((
                doc_key.clone(),
                Write {
                    table: Table::DOCUMENTS,
                    key: doc_key.clone(),
                    value: Some(bytes),
                },
            ))
        };
        slot.blocked = None;
        let record = SessionRecord {
            snapshot,
            document: doc_key,
            document_url: slot.create.document_url.clone(),
            parent: slot.links.parent().cloned(),
            children: slot
                .links
                .children()
                .filter_map(|(inv, c)| match c {
                    Child::Session(s) => Some((inv.clone(), s.clone())),
                    Child::Service { .. } | Child::Fetching { .. } => None,
                })
                .collect(),
            services,
            timers,
            events_processed: slot.events_processed,
        };
        let mut bytes = serde_json::to_vec(&record)?;
        let limit = self.router.config.max_session_bytes;
        if bytes.len() > limit {
            if slot.running {
                return Err(NotPersisted::TooLarge {
                    bytes: bytes.len(),
                    limit,
                });
            }
            // Ended (for its size, or halted with a datamodel too large to keep): the
            // record keeps everything but the datamodel.
            let mut record = record;
            record.snapshot.datamodel = Value::Object(Default::default());
            bytes = serde_json::to_vec(&record)?;
        }
        Ok(Some((bytes, doc_write)))
    }

    /// Writes the records of the sessions about to hibernate that are behind (see
    /// `unsaved`); one that cannot be persisted is kept live, with the reason, and leaves
    /// `leaving`. False when the store failed: then none may hibernate.
    pub(super) fn save_unsaved(&mut self, leaving: &mut Vec<String>) -> bool {
        self.unsaved.retain(|id| self.sessions.contains_key(id));
        let mut batch = Vec::new();
        let mut new_documents = Vec::new();
        let mut blocked = HashSet::new();
        for id in leaving.iter() {
            if !self.unsaved.contains(id) {
                continue;
            }
            if self
                .batch_record(id, &mut batch, &mut new_documents)
                .is_err()
            {
                blocked.insert(id.clone());
            }
        }
        if let Err(e) = self.router.config.store.apply(&batch) {
            tracing::error!(shard = self.index, error = %e, "writing hibernating sessions failed");
            return false;
        }
        self.stored_documents.extend(new_documents);
        leaving.retain(|id| !blocked.contains(id));
        for id in leaving.iter() {
            self.unsaved.remove(id);
        }
        true
    }

    /// Brings back this shard's sessions from the store, hibernated, with their timers.
    pub(super) fn load_from_store(&mut self) {
        // Only this shard's records are decoded and kept, as the table streams by; the
        // documents are read once the scan is over (a store may hold a transaction while it
        // visits).
        let store = self.router.config.store.clone();
        let mut records = Vec::new();
        let scanned = store.for_each(Table::SESSIONS, &mut |id, bytes| {
            if self.router.shard_of(id) == self.index {
                match serde_json::from_slice::<SessionRecord>(bytes) {
                    Ok(record) => records.push((id.to_string(), record)),
                    Err(e) => {
                        tracing::error!(session = %id, error = %e, "unreadable session record")
                    }
                }
            }
            std::ops::ControlFlow::Continue(())
        });
        if let Err(e) = scanned {
            tracing::error!(shard = self.index, error = %e, "cannot read stored sessions");
            return;
        }
        let now = Instant::now();
        let now_wall = SystemTime::now();
        let mut restored = 0usize;
        for (id, record) in records {
            let doc = match self.stored_document(&record.document) {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::error!(session = %id, error = %e, "cannot rebuild the session's document");
                    continue;
                }
            };
            for t in &record.timers {
                self.timers.insert(
                    record::unix_ms_to_instant(t.due_unix_ms, now, now_wall),
                    Timer {
                        from: id.clone(),
                        sendid: t.sendid.clone(),
                        to: t.to.clone(),
                        event: t.event.clone(),
                        basichttp: t.basichttp,
                    },
                );
            }
            let running = record.snapshot.running;
            let failure = record.snapshot.failure.clone();
            let configuration = record
                .snapshot
                .configuration
                .iter()
                .filter_map(|s| doc.state_by_id(s))
                .collect();
            let mut links = Links::new(record.parent.clone());
            for (invokeid, child) in record.children {
                links.start(invokeid, Child::Session(child));
            }
            self.router.register(&id);
            for service in record.services {
                let invokeid = service.invokeid.clone();
                if let Some(child) = self.resume_service(&id, service) {
                    links.start(invokeid, child);
                }
            }
            self.router.stats.hibernated.fetch_add(1, Ordering::Relaxed);
            if !running && record.parent.is_none() {
                self.expiries.push_back((now + DONE_RETENTION, id.clone()));
            }
            self.sessions.insert(
                id,
                Slot {
                    interpreter: None,
                    hibernated: true,
                    doc,
                    links,
                    create: CreateOptions {
                        initial_data: Vec::new(),
                        document_url: record.document_url,
                    },
                    outbox: VecDeque::new(),
                    http_in_flight: false,
                    trace: None,
                    trace_seq: 0,
                    events_processed: record.events_processed,
                    last_active: now,
                    last_configuration: configuration,
                    running,
                    failure,
                    blocked: None,
                    final_view: None,
                },
            );
            restored += 1;
        }
        if restored > 0 {
            tracing::info!(
                shard = self.index,
                sessions = restored,
                "restored sessions from the store"
            );
        }
    }

    pub(super) fn stored_document(&mut self, key: &str) -> Result<Arc<Document>, NotPersisted> {
        if let Some(doc) = self.documents.get(key) {
            return Ok(doc.clone());
        }
        let bytes = self
            .router
            .config
            .store
            .get(Table::DOCUMENTS, key)?
            .ok_or_else(|| NotPersisted::DocumentMissing(key.to_string()))?;
        let record: DocumentRecord = serde_json::from_slice(&bytes)?;
        let base = record.url.as_deref().and_then(|u| url::Url::parse(u).ok());
        // What its srcs read then, not what they hold now.
        let pinned: Vec<(url::Url, Arc<str>)> = record
            .fetched
            .iter()
            .filter_map(|(url, text)| Some((url::Url::parse(url).ok()?, Arc::from(text.as_str()))))
            .collect();
        let doc = scxml::parse::parse_with(
            &record.text,
            record.url.as_deref().unwrap_or(key),
            base.as_ref(),
            &scxml::parse::PinnedResolver::new(&pinned, self.resolver()),
        )
        .map(Arc::new)
        .map_err(|e| NotPersisted::DocumentInvalid(e.to_string()))?;
        self.documents.insert(key.to_string(), doc.clone());
        self.stored_documents.insert(key.to_string());
        Ok(doc)
    }
}

/// The records of a session's running custom services; an error names the first one that
/// cannot be persisted.
fn persist_services(links: &Links<String>) -> Result<Vec<ServiceRecord>, NotPersisted> {
    let mut services = Vec::new();
    for (invokeid, child) in links.children() {
        if let Child::Fetching { .. } = child {
            return Err(NotPersisted::FetchingDocument {
                invokeid: invokeid.clone(),
            });
        }
        if let Child::Service { kind, service } = child {
            let state = service
                .persist()
                .ok_or_else(|| NotPersisted::Service { kind: kind.clone() })?;
            services.push(ServiceRecord {
                invokeid: invokeid.clone(),
                kind: kind.clone(),
                state,
            });
        }
    }
    Ok(services)
}
