//! The [`Host`] a session sees while it runs on a shard: the SCXML I/O decisions are the
//! core's ([`scxml::io::route_send`]); this records the effects for the shard to apply.

use super::*;

/// The [`Host`] a session sees while it runs on a shard: it records effects (and logs, for
/// the trace) for the shard to apply once the macrostep is over.
pub(super) struct ShardHost<'a> {
    session: &'a str,
    links: &'a mut Links<String>,
    router: &'a Arc<Router>,
    /// What the macrostep asked for, in order.
    pub(super) effects: Vec<Effect>,
    /// `<log>`s of the macrostep: label and message.
    pub(super) logs: Vec<(Option<String>, String)>,
}

impl<'a> ShardHost<'a> {
    pub(super) fn new(
        session: &'a str,
        links: &'a mut Links<String>,
        router: &'a Arc<Router>,
    ) -> ShardHost<'a> {
        ShardHost {
            session,
            links,
            router,
            effects: Vec::new(),
            logs: Vec::new(),
        }
    }
}

impl Host for ShardHost<'_> {
    fn send(&mut self, request: SendRequest) -> Result<(), SendError> {
        let own = self.session.to_string();
        let router = self.router;
        let outgoing = route_send(request, &own, self.links, &router.config.registry, |id| {
            router.exists(id).then(|| id.to_string())
        })?;
        match outgoing {
            Outgoing::Scxml {
                to,
                event,
                sendid,
                delay,
            } => self.effects.push(Effect::Deliver {
                to,
                event,
                sendid,
                delay,
            }),
            Outgoing::Handled => {}
            Outgoing::BasicHttp(request) => self.effects.push(Effect::HttpSend(request)),
            Outgoing::Custom { processor, request } => {
                self.effects.push(Effect::CustomSend { processor, request })
            }
        }
        Ok(())
    }

    fn cancel(&mut self, sendid: &str) {
        self.effects.push(Effect::Cancel(sendid.to_string()));
    }

    fn invoke(&mut self, request: InvokeRequest) -> Result<(), InvokeError> {
        check_invoke_type(&request.kind, &self.router.config.registry)?;
        self.effects.push(Effect::StartInvoke(request));
        Ok(())
    }

    fn cancel_invoke(&mut self, invokeid: &str) {
        self.effects
            .push(Effect::CancelInvoke(invokeid.to_string()));
    }

    fn forward(&mut self, invokeid: &str, event: &Event) {
        if let Some(Delivery::Session(child)) = self.links.forward(invokeid, event) {
            self.effects.push(Effect::Deliver {
                to: child,
                event: event.clone(),
                sendid: String::new(),
                delay: Duration::ZERO,
            });
        }
    }

    fn log(&mut self, label: Option<&str>, message: &str) {
        tracing::info!(session = %self.session, label = label.unwrap_or(""), "{message}");
        self.logs
            .push((label.map(str::to_string), message.to_string()));
    }

    fn done(&mut self, donedata: Option<Value>) {
        self.effects.push(Effect::Done(donedata));
    }
}
