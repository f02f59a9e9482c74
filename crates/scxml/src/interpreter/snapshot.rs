//! Snapshots of a session at rest: everything the interpreter needs to continue later in a
//! fresh process, as plain serde data.
//!
//! States are recorded by their `id` so a snapshot stays readable and is checked against the
//! document it is restored into. Pending delayed sends belong to the host and are not part of
//! this snapshot; the datamodel is exported through [`crate::datamodel::Datamodel::export`].

use super::{ActiveInvoke, Failure, Interpreter, SessionOptions};
use crate::model::{Document, StateId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// A session between two macrosteps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    /// `_sessionid`.
    pub session_id: String,
    /// False when the session had halted (it is restored halted, for inspection).
    pub running: bool,
    /// Active states, in document order.
    pub configuration: Vec<String>,
    /// Recorded history: history state id -> the states it restores.
    pub history: Vec<(String, Vec<String>)>,
    /// Late binding: states whose data has been initialised.
    pub data_initialized: Vec<String>,
    /// The invocations running at the time.
    pub invokes: Vec<InvokeSnapshot>,
    /// The counter behind generated send and invoke ids, so a restored session does not
    /// hand out an id twice.
    pub next_id: u64,
    /// The top-level final state the session halted in, if it did.
    pub final_state: Option<String>,
    /// The datamodel's exported variables.
    pub datamodel: Value,
    /// [`SessionOptions::io_processors`] of the session.
    pub io_processors: Vec<(String, String)>,
    /// Why the session failed, when it did (it is restored halted, with the same reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// An invocation that was running when the snapshot was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvokeSnapshot {
    /// The id of the state whose `<invoke>` started it.
    pub state: String,
    /// Which of that state's `<invoke>` elements, in document order.
    pub index: usize,
    /// The invocation's id.
    pub invokeid: String,
    /// Whether external events are forwarded to it.
    pub autoforward: bool,
}

/// Why a session could not be snapshotted or restored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnapshotError {
    /// The session is in the middle of a macrostep (or not started): there is nothing
    /// consistent to capture.
    #[error("the session is not at rest: {0}")]
    NotAtRest(&'static str),
    /// The datamodel could not export or import its variables.
    #[error("the datamodel cannot be exported: {0}")]
    Datamodel(String),
    /// The snapshot does not fit the document (it was taken from another version of it).
    #[error("the snapshot names state `{0}`, which the document does not have")]
    UnknownState(String),
}

impl Interpreter {
    /// Captures the session. It must be at rest: started, with an empty internal queue.
    pub fn snapshot(&mut self) -> Result<SessionSnapshot, SnapshotError> {
        if !self.started {
            return Err(SnapshotError::NotAtRest("not started"));
        }
        if !self.internal_queue.is_empty() {
            return Err(SnapshotError::NotAtRest("internal events are queued"));
        }
        let datamodel = self
            .dm
            .export()
            .map_err(|e| SnapshotError::Datamodel(e.message))?;
        let doc = &self.doc;
        let id = |s: StateId| doc.state(s).id.clone();
        Ok(SessionSnapshot {
            session_id: self.session_id.clone(),
            running: self.running,
            configuration: self.configuration().into_iter().map(id).collect(),
            history: self
                .history_value
                .iter()
                .enumerate()
                .filter_map(|(h, v)| {
                    v.as_ref()
                        .map(|v| (id(h as StateId), v.iter().map(|&s| id(s)).collect()))
                })
                .collect(),
            data_initialized: self.data_initialized.iter().map(id).collect(),
            invokes: self
                .invokes
                .iter()
                .map(|i| InvokeSnapshot {
                    state: id(i.state),
                    index: i.index,
                    invokeid: i.invokeid.clone(),
                    autoforward: i.autoforward,
                })
                .collect(),
            next_id: self.next_id,
            final_state: self.final_state.map(id),
            datamodel,
            io_processors: self.options.io_processors.clone(),
            failure: self.failure.clone(),
        })
    }

    /// Recreates a session from a snapshot, without running any executable content.
    ///
    /// `doc` must be the document the snapshot was taken from. Pending delayed sends and the
    /// services behind running invocations belong to the host, which brings them back itself.
    pub fn restore(
        doc: Arc<Document>,
        snapshot: &SessionSnapshot,
    ) -> Result<Interpreter, SnapshotError> {
        let options = SessionOptions {
            session_id: snapshot.session_id.clone(),
            io_processors: snapshot.io_processors.clone(),
            ..SessionOptions::default()
        };
        let mut i = Interpreter::new(doc.clone(), options);
        let lookup = |name: &String| {
            let root = crate::model::ROOT;
            if *name == doc.state(root).id {
                return Ok(root);
            }
            doc.state_by_id(name)
                .ok_or_else(|| SnapshotError::UnknownState(name.clone()))
        };
        i.dm.init_system(&i.system_variables())
            .map_err(|e| SnapshotError::Datamodel(e.message))?;
        i.dm.import(&snapshot.datamodel)
            .map_err(|e| SnapshotError::Datamodel(e.message))?;
        let states: Vec<StateId> = snapshot
            .configuration
            .iter()
            .map(lookup)
            .collect::<Result<_, _>>()?;
        if snapshot.running {
            for s in &states {
                i.configuration.insert(*s);
            }
        } else {
            i.final_configuration = states;
        }
        for (h, value) in &snapshot.history {
            let h = lookup(h)?;
            let value = value.iter().map(lookup).collect::<Result<Vec<_>, _>>()?;
            if let Some(slot) = i.history_value.get_mut(h as usize) {
                *slot = Some(value);
            }
        }
        for s in &snapshot.data_initialized {
            i.data_initialized.insert(lookup(s)?);
        }
        for inv in &snapshot.invokes {
            i.invokes.push(ActiveInvoke {
                state: lookup(&inv.state)?,
                index: inv.index,
                invokeid: inv.invokeid.clone(),
                autoforward: inv.autoforward,
            });
        }
        i.final_state = snapshot.final_state.as_ref().map(lookup).transpose()?;
        i.next_id = snapshot.next_id;
        i.started = true;
        i.running = snapshot.running;
        i.failure = snapshot.failure.clone();
        if !i.running {
            i.retire_datamodel();
        }
        Ok(i)
    }
}
