//! Executable content (SCXML section 4 and 6): `<raise>`, `<send>`, `<assign>`, `<if>`, ...
//! and the evaluation of `<invoke>` and `<donedata>`.
//!
//! An element that fails places `error.execution` on the internal queue and stops the rest of
//! its block, as section 4.9 requires.

use super::{
    ActiveInvoke, Event, EventType, Host, Interpreter, InvokeRequest, InvokeSource, SendRequest,
    SCXML_EVENT_PROCESSOR, SCXML_INVOKE_TYPE,
};
use crate::datamodel::EvalContext;
use crate::model::{AttrValue, Block, Content, Delay, Executable, Expr, Param, Pos, Send, StateId};
use serde_json::Value;
use std::time::Duration;

/// Why an element of executable content failed: what the `error.execution` event carries.
#[derive(Debug)]
struct ExecError {
    message: String,
    /// The send id, when a `<send>` failed (SCXML 6.2: the error event carries it).
    sendid: Option<String>,
    /// The innermost element that failed: its tag and where it starts.
    site: Option<(&'static str, Pos)>,
}

impl From<String> for ExecError {
    fn from(message: String) -> ExecError {
        ExecError {
            message,
            sendid: None,
            site: None,
        }
    }
}

type ExecResult<T> = Result<T, ExecError>;

/// Borrows the evaluation context of an interpreter next to a mutable datamodel borrow.
macro_rules! cx {
    ($self:ident) => {
        EvalContext {
            doc: &$self.doc,
            active: &$self.configuration,
        }
    };
}

impl Interpreter {
    /// Runs a block; on the first failing element raises `error.execution` and stops.
    pub(super) fn execute_block(&mut self, block: &Block, host: &mut dyn Host) {
        for exe in block {
            if let Err(e) = self.execute(exe, host) {
                self.raise_send_error("error.execution", e.site, e.message, e.sendid);
                return;
            }
        }
    }

    /// Runs a block inside a `<foreach>` or `<if>`, propagating the failure to the caller so
    /// the enclosing block stops too.
    fn execute_nested(&mut self, block: &Block, host: &mut dyn Host) -> ExecResult<()> {
        for exe in block {
            self.execute(exe, host)?;
        }
        Ok(())
    }

    fn execute(&mut self, exe: &Executable, host: &mut dyn Host) -> ExecResult<()> {
        // The innermost failing element names itself (an `<if>` passes its arm's failure on).
        self.execute_element(exe, host).map_err(|mut e| {
            e.site.get_or_insert((exe.tag(), exe.pos()));
            e
        })
    }

    fn execute_element(&mut self, exe: &Executable, host: &mut dyn Host) -> ExecResult<()> {
        match exe {
            Executable::Raise { event, .. } => {
                self.enqueue_internal(Event::internal(event.clone()));
                Ok(())
            }
            Executable::Log { label, expr, .. } => {
                let message = match expr {
                    Some(e) => self.eval_string(e)?,
                    None => String::new(),
                };
                host.log(label.as_deref(), &message);
                Ok(())
            }
            Executable::Assign {
                location, value, ..
            } => self
                .dm
                .assign(location, value, cx!(self))
                .map_err(|e| at(location, "assign", e)),
            Executable::Script(script) => self
                .dm
                .execute_script(script, cx!(self))
                .map_err(|e| at(script, "script", e)),
            Executable::If { branches, .. } => {
                for branch in branches {
                    let taken = match &branch.cond {
                        None => true,
                        Some(cond) => self
                            .dm
                            .eval_cond(cond, cx!(self))
                            .map_err(|e| at(cond, "cond", e))?,
                    };
                    if taken {
                        return self.execute_nested(&branch.body, host);
                    }
                }
                Ok(())
            }
            Executable::Foreach {
                array,
                item,
                index,
                body,
                ..
            } => {
                let len = self
                    .dm
                    .foreach_begin(array, cx!(self))
                    .map_err(|e| at(array, "foreach array", e))?;
                let result = (0..len).try_for_each(|i| {
                    self.dm
                        .foreach_step(item, index.as_ref(), i, cx!(self))
                        .map_err(|e| at(item, "foreach item", e))?;
                    self.execute_nested(body, host)
                });
                self.dm.foreach_end();
                result
            }
            Executable::Send(send) => self.execute_send(send, host),
            Executable::Cancel { sendid, .. } => {
                let id = self.eval_attr(sendid)?;
                host.cancel(&id);
                Ok(())
            }
        }
    }

    /// `<send>` (section 6.2): evaluates every attribute, then delivers to the internal queue
    /// (`#_internal`) or hands the send to the host.
    fn execute_send(&mut self, send: &Send, host: &mut dyn Host) -> ExecResult<()> {
        let name = match &send.event {
            Some(v) => self.eval_attr(v)?,
            None => String::new(),
        };
        let target = send
            .target
            .as_ref()
            .map(|t| self.eval_attr(t))
            .transpose()?;
        let kind = match &send.type_ {
            Some(t) => self.eval_attr(t)?,
            None => SCXML_EVENT_PROCESSOR.to_string(),
        };
        let explicit_id = send.id.is_some() || send.idlocation.is_some();
        let sendid = match &send.id {
            Some(id) => id.clone(),
            None => {
                let n = self.generate_id();
                let id = format!("send.{}.{n}", self.session_id);
                if let Some(location) = &send.idlocation {
                    self.dm
                        .assign_value(location, &Value::String(id.clone()), cx!(self))
                        .map_err(|e| at(location, "idlocation", e))?;
                }
                id
            }
        };
        let delay = match &send.delay {
            None => Duration::ZERO,
            Some(Delay::Fixed(d)) => *d,
            Some(Delay::Expr(e)) => {
                let text = self.eval_string(e)?;
                crate::parse::parse_duration(&text)
                    .ok_or_else(|| format!("{}: delayexpr gave `{text}`, not a CSS2 time", e.pos))?
            }
        };
        let is_scxml = super::is_scxml_processor(&kind);
        let (data, raw) = match &send.content {
            Some(content) => (Some(self.eval_content(content)?), None),
            None if send.namelist.is_empty() && send.params.is_empty() => (None, None),
            None => {
                let pairs = self.evaluate_params(&send.namelist, &send.params)?;
                // `raw` keeps every pair, repeated names included; `data` is an object, where
                // a repeated name keeps its last value. Only the SCXML and Basic HTTP
                // processors have a raw message (custom types read `data`).
                let has_raw = is_scxml || super::is_basichttp(&kind);
                let raw = has_raw.then(|| form_encode(&pairs));
                (Some(Value::Object(pairs.into_iter().collect())), raw)
            }
        };
        let event = Event {
            name,
            kind: EventType::External,
            sendid: explicit_id.then(|| sendid.clone()),
            origin: is_scxml.then(|| format!("#_scxml_{}", self.session_id)),
            origintype: is_scxml.then(|| SCXML_EVENT_PROCESSOR.to_string()),
            invokeid: None,
            data,
            raw,
        };
        if is_scxml && target.as_deref() == Some("#_internal") && delay.is_zero() {
            self.enqueue_internal(Event {
                kind: EventType::Internal,
                ..event
            });
            return Ok(());
        }
        let request = SendRequest {
            event,
            target,
            kind,
            sendid,
            delay,
        };
        let sendid_copy = request.sendid.clone();
        match host.send(request) {
            Ok(()) => Ok(()),
            Err(e) if e.event_name() == "error.communication" => {
                self.raise_send_error(
                    "error.communication",
                    Some(("send", send.pos)),
                    e.to_string(),
                    Some(sendid_copy),
                );
                Ok(())
            }
            Err(e) => Err(ExecError {
                message: format!("{}: {e}", send.pos),
                sendid: Some(sendid_copy),
                site: Some(("send", send.pos)),
            }),
        }
    }

    /// `namelist` then `<param>`s, as (name, value) pairs in document order.
    fn evaluate_params(
        &mut self,
        namelist: &[Expr],
        params: &[Param],
    ) -> ExecResult<Vec<(String, Value)>> {
        let mut out = Vec::with_capacity(namelist.len() + params.len());
        for location in namelist {
            let value = self
                .dm
                .eval_value(location, cx!(self))
                .map_err(|e| at(location, "namelist", e))?;
            out.push((location.source.clone(), value));
        }
        for param in params {
            let value = self
                .dm
                .eval_value(&param.expr, cx!(self))
                .map_err(|e| at(&param.expr, "param", e))?;
            out.push((param.name.clone(), value));
        }
        Ok(out)
    }

    fn eval_content(&mut self, content: &Content) -> ExecResult<Value> {
        let result = self.dm.eval_content(content, cx!(self));
        result.map_err(|e| match content {
            Content::Expr(expr) => at(expr, "content", e),
            _ => format!("content: {e}").into(),
        })
    }

    fn eval_string(&mut self, expr: &Expr) -> ExecResult<String> {
        self.dm
            .eval_string(expr, cx!(self))
            .map_err(|e| at(expr, "expression", e))
    }

    fn eval_attr(&mut self, value: &AttrValue) -> ExecResult<String> {
        match value {
            AttrValue::Literal(s) => Ok(s.clone()),
            AttrValue::Expr(e) => self.eval_string(e),
        }
    }

    /// The `<donedata>` of a final state as `_event.data`; a failure raises
    /// `error.execution` and gives no data.
    pub(super) fn evaluate_donedata(
        &mut self,
        state: StateId,
        host: &mut dyn Host,
    ) -> Option<Value> {
        let doc = self.doc.clone();
        let donedata = doc.state(state).donedata.as_ref()?;
        let result = match &donedata.content {
            Some(content) => self.eval_content(content),
            None => self
                .evaluate_params(&[], &donedata.params)
                .map(|pairs| Value::Object(pairs.into_iter().collect())),
        };
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.raise_error("error.execution", e.message, host);
                None
            }
        }
    }

    /// Starts the invocations of the states entered in this macrostep, in entry order.
    pub(super) fn start_invokes(&mut self, host: &mut dyn Host) {
        if self.states_to_invoke.is_empty() {
            return;
        }
        let doc = self.doc.clone();
        let states: Vec<StateId> = self.states_to_invoke.iter().collect();
        self.states_to_invoke.clear();
        for s in states {
            for index in 0..doc.state(s).invokes.len() {
                if let Err(e) = self.invoke(s, index, host) {
                    let site = Some(("invoke", doc.state(s).invokes[index].pos));
                    self.raise_error_at("error.execution", site, e.message, host);
                }
            }
        }
    }

    /// `invoke(inv)`: evaluates the element and asks the host to start it.
    fn invoke(&mut self, state: StateId, index: usize, host: &mut dyn Host) -> ExecResult<()> {
        let doc = self.doc.clone();
        let inv = &doc.state(state).invokes[index];
        let invokeid = match &inv.id {
            Some(id) => id.clone(),
            None => {
                let id = format!("{}.{}", doc.state(state).id, self.generate_id());
                if let Some(location) = &inv.idlocation {
                    self.dm
                        .assign_value(location, &Value::String(id.clone()), cx!(self))
                        .map_err(|e| at(location, "idlocation", e))?;
                }
                id
            }
        };
        let kind = match &inv.type_ {
            Some(t) => self.eval_attr(t)?,
            None => SCXML_INVOKE_TYPE.to_string(),
        };
        let source = match (&inv.content, &inv.src) {
            (Some(Content::Document(d)), _) => InvokeSource::Document(d.clone()),
            (Some(content), _) => match self.eval_content(content)? {
                Value::String(s) => InvokeSource::Markup(s),
                other => InvokeSource::Value(other),
            },
            (None, Some(src)) => {
                let src = self.eval_attr(src)?;
                let resolved = match &doc.base_url {
                    Some(base) => base
                        .join(&src)
                        .map(|u| u.to_string())
                        .map_err(|e| format!("{}: invoke src `{src}`: {e}", inv.pos))?,
                    None => src,
                };
                InvokeSource::Url(resolved)
            }
            (None, None) => InvokeSource::None,
        };
        let params = self.evaluate_params(&inv.namelist, &inv.params)?;
        let request = InvokeRequest {
            invokeid: invokeid.clone(),
            kind,
            source,
            params,
            autoforward: inv.autoforward,
        };
        host.invoke(request)
            .map_err(|e| format!("{}: invoke `{invokeid}`: {e}", inv.pos))?;
        self.invokes.push(ActiveInvoke {
            state,
            index,
            invokeid,
            autoforward: inv.autoforward,
        });
        Ok(())
    }

    /// `applyFinalize`: runs the `<finalize>` of an invocation for an event it returned.
    pub(super) fn apply_finalize(&mut self, state: StateId, index: usize, host: &mut dyn Host) {
        let doc = self.doc.clone();
        let finalize = &doc.state(state).invokes[index].finalize;
        if !finalize.is_empty() {
            self.execute_block(finalize, host);
        }
    }

    /// `cancelInvoke` for every invocation started by `state`.
    pub(super) fn cancel_invokes_of(&mut self, state: StateId, host: &mut dyn Host) {
        self.invokes.retain(|inv| {
            if inv.state == state {
                host.cancel_invoke(&inv.invokeid);
                false
            } else {
                true
            }
        });
    }
}

/// `name=value&...` with values as JSON text (strings unquoted), as a form would send them.
fn form_encode(pairs: &[(String, Value)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        match value {
            Value::String(s) => form.append_pair(name, s),
            other => form.append_pair(name, &other.to_string()),
        };
    }
    form.finish()
}

/// Formats a datamodel failure with where the expression was written.
fn at(expr: &Expr, what: &str, e: impl std::fmt::Display) -> ExecError {
    format!("{}: {what} `{}`: {e}", expr.pos, expr.source).into()
}
