//! What a session looks like from outside: its view, for inspection and answers.

use super::*;

impl Shard {
    pub(super) fn view(&mut self, id: &str) -> Result<SessionView, EngineError> {
        let unknown = || EngineError::UnknownSession(id.to_string());
        if !self.wake(id) {
            return Err(unknown());
        }
        let now = Instant::now();
        let pending_sends = self
            .timers
            .pending_of(id)
            .into_iter()
            .map(|(t, due)| PendingSend {
                sendid: t.sendid.clone(),
                event: t.event.name.clone(),
                due_in_ms: due.saturating_duration_since(now).as_millis() as u64,
            })
            .collect();
        let slot = self.sessions.get_mut(id).ok_or_else(unknown)?;
        let status = slot.status();
        if let Some(kept) = &slot.final_view {
            return Ok(SessionView {
                status,
                ..kept.view()
            });
        }
        let interpreter = slot.interpreter.as_mut().ok_or_else(unknown)?;
        Ok(SessionView {
            id: id.to_string(),
            status,
            name: interpreter.document().name.clone(),
            document: slot.create.document_url.clone(),
            configuration: interpreter
                .active_ids()
                .into_iter()
                .map(str::to_string)
                .collect(),
            active_states: interpreter
                .active_atomic_ids()
                .into_iter()
                .map(str::to_string)
                .collect(),
            final_state: interpreter.final_state().map(str::to_string),
            failure: slot.failure.as_ref().map(ToString::to_string),
            datamodel: interpreter
                .datamodel_mut()
                .export()
                .unwrap_or_else(|e| Value::String(format!("not exportable: {e}"))),
            pending_sends,
            invokes: slot.links.invoke_ids().cloned().collect(),
            events_processed: slot.events_processed,
            not_persisted: slot.blocked.as_ref().map(ToString::to_string),
        })
    }
}

pub(super) fn atomic_ids(doc: &Document, configuration: &[StateId]) -> Vec<String> {
    configuration
        .iter()
        .map(|&s| doc.state(s))
        .filter(|s| s.is_atomic())
        .map(|s| s.id.clone())
        .collect()
}
