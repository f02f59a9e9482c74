//! Applying what a macrostep asked for, in order: deliveries and timers, Basic HTTP posts
//! (the session's later effects wait in its outbox until the post completes), custom sends
//! (after the commit), invocations and done; and the work that comes back from off the thread.

use super::*;

impl Shard {
    /// Applies a session's effects in order, holding them back behind an unfinished Basic
    /// HTTP send.
    pub(super) fn apply(&mut self, id: &str, effects: Vec<Effect>) {
        for effect in effects {
            let Some(slot) = self.sessions.get_mut(id) else {
                return;
            };
            if slot.http_in_flight {
                slot.outbox.push_back(effect);
                continue;
            }
            self.apply_one(id, effect);
        }
    }

    pub(super) fn apply_one(&mut self, id: &str, effect: Effect) {
        match effect {
            Effect::Deliver {
                to,
                event,
                sendid,
                delay,
            } => {
                if delay.is_zero() {
                    self.route(to, event);
                } else {
                    self.timers.insert(
                        Instant::now() + delay,
                        Timer {
                            from: id.to_string(),
                            sendid,
                            to,
                            event,
                            basichttp: false,
                        },
                    );
                }
            }
            Effect::Cancel(sendid) => {
                self.timers.cancel(id, &sendid);
            }
            Effect::HttpSend(request) if !request.delay.is_zero() => {
                // Delayed: a timer like any other (cancellable, stored with the session),
                // which posts it when due.
                self.timers.insert(
                    Instant::now() + request.delay,
                    Timer {
                        from: id.to_string(),
                        sendid: request.sendid,
                        to: request.target.unwrap_or_default(),
                        event: request.event,
                        basichttp: true,
                    },
                );
            }
            Effect::HttpSend(request) => {
                if let Some(slot) = self.sessions.get_mut(id) {
                    slot.http_in_flight = true;
                }
                let done = self.completions.clone();
                let session = id.to_string();
                tokio::spawn(async move {
                    let result = basichttp_client::post_event(&request).await;
                    let _ = done.send(Completion::Http { session, result });
                });
            }
            Effect::CustomSend { processor, request } => {
                let session = id.to_string();
                self.defer(move |shard| shard.custom_send(session, processor, request));
            }
            Effect::StartInvoke(request) => self.start_invoke(id, request),
            Effect::CancelInvoke(invokeid) => self.cancel_invoke(id, &invokeid),
            Effect::Done(donedata) => self.session_done(id, donedata),
        }
    }

    /// Hands a custom send to its type. It has left the macrostep by now, so a refusal comes
    /// back to the session as an external `error.communication` carrying the send id.
    pub(super) fn custom_send(
        &mut self,
        session: String,
        processor: Arc<dyn CustomSendType>,
        request: SendRequest,
    ) {
        let sendid = request.sendid.clone();
        let reply = Arc::new(RouterSink::new(&self.router, &session, None));
        if let Err(error) = processor.send(request, reply) {
            let mut event =
                Event::platform(error.event_name(), Some(Value::String(error.to_string())));
            event.sendid = Some(sendid);
            let _ = self.router.deliver(&session, event);
        }
    }

    pub(super) fn completed(&mut self, completion: Completion) {
        match completion {
            Completion::Http { session, result } => self.http_completed(&session, result),
            Completion::ChildDocument {
                parent,
                request,
                result,
            } => self.child_document_fetched(&parent, request, result),
        }
    }

    pub(super) fn http_completed(&mut self, id: &str, result: Result<(), String>) {
        if let Err(reason) = result {
            self.route(
                id.to_string(),
                Event::platform("error.communication", Some(Value::String(reason))),
            );
        }
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        slot.http_in_flight = false;
        while let Some(effect) = self.sessions.get_mut(id).and_then(|s| s.outbox.pop_front()) {
            self.apply_one(id, effect);
            if self.sessions.get(id).is_some_and(|s| s.http_in_flight) {
                break;
            }
        }
    }
}
