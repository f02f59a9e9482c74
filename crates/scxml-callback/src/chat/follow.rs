//! Chat followers: tokio tasks that forward a chat's new transcript entries to comet clients.
//!
//! A follower listens to [`ChatServer::subscribe`] and delivers each entry on a channel to a
//! [`Recipient`], catching up from the transcript if it lagged. It stops when the chat ends,
//! when the participant it serves has left, when the recipient is gone, or when the comet
//! server is dropped. One follower per (recipient, chat) at a time.

use super::comet::{CometServer, Recipient};
use super::model::{ChatError, ChatUpdate, EntryType, Transcript, TranscriptEntry};
use super::server::ChatServer;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Weak};
use tokio::sync::broadcast::error::RecvError;

/// What to follow and where to send it.
#[derive(Debug, Clone)]
pub(crate) struct Follow {
    /// The chat whose transcript is forwarded.
    pub(crate) chat_id: String,
    /// Who receives the entries.
    pub(crate) to: Recipient,
    /// The channel the entries are delivered on (`/_genesys` for Chat v1, the service's
    /// `/service/chatV2/...` channel for Chat v2).
    pub(crate) channel: String,
    /// The first transcript position to forward.
    pub(crate) from: u64,
    /// Fields added to every delivered `data` (e.g. Chat v2 `secureKey`, `userId`, `alias`).
    pub(crate) extra: Map<String, Value>,
    /// Stop after forwarding this participant's `ParticipantLeft`.
    pub(crate) until_left: Option<String>,
}

/// Starts a follower (unless one already serves this recipient and chat). Entries from
/// `from` that are already in the transcript are sent first. Needs a tokio runtime.
pub(crate) fn spawn(
    server: &Arc<CometServer>,
    chat: Arc<ChatServer>,
    follow: Follow,
) -> Result<(), ChatError> {
    // Subscribe before reading the transcript so that nothing falls between the two.
    let rx = chat.subscribe(&follow.chat_id)?;
    let backlog = chat.transcript(&follow.chat_id, follow.from)?;
    let key = (follow.to.clone(), follow.chat_id.clone());
    if !server.register_follower(key.clone()) {
        return Ok(());
    }
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        run(weak.clone(), chat, follow, rx, backlog).await;
        if let Some(server) = weak.upgrade() {
            server.unregister_follower(&key);
        }
    });
    Ok(())
}

async fn run(
    server: Weak<CometServer>,
    chat: Arc<ChatServer>,
    follow: Follow,
    mut rx: tokio::sync::broadcast::Receiver<ChatUpdate>,
    backlog: Transcript,
) {
    let mut next = follow.from.max(1);
    let mut pending = with_end_flags(backlog);
    loop {
        for (entry, ended) in pending.drain(..) {
            if entry.index < next {
                continue;
            }
            next = entry.index + 1;
            let Some(server) = server.upgrade() else {
                return;
            };
            let delivered = server.deliver(
                &follow.to,
                &follow.channel,
                data(&follow, &entry, ended, next),
            );
            if delivered == 0 {
                if let Recipient::Client(id) = &follow.to {
                    if !server.has_client(id) {
                        return;
                    }
                }
            }
            let own_leave = entry.kind == EntryType::ParticipantLeft
                && follow.until_left.as_deref() == Some(entry.from.participant_id.as_str());
            if ended || own_leave {
                return;
            }
        }
        match rx.recv().await {
            Ok(update) => pending.push((update.entry, update.chat_ended)),
            Err(RecvError::Lagged(_)) => match chat.transcript(&follow.chat_id, next) {
                Ok(t) => pending = with_end_flags(t),
                Err(_) => return,
            },
            Err(RecvError::Closed) => return,
        }
    }
}

/// A transcript's entries, the last one flagged as ending the chat when it has ended.
fn with_end_flags(transcript: Transcript) -> Vec<(TranscriptEntry, bool)> {
    let last = transcript.messages.last().map(|e| e.index);
    let ended = transcript.chat_ended;
    transcript
        .messages
        .into_iter()
        .map(|e| {
            let end = ended && Some(e.index) == last;
            (e, end)
        })
        .collect()
}

/// The `data` of one forwarded entry.
fn data(follow: &Follow, entry: &TranscriptEntry, ended: bool, next: u64) -> Value {
    let mut out = follow.extra.clone();
    out.insert("statusCode".into(), json!(0));
    out.insert("chatId".into(), json!(follow.chat_id));
    out.insert("messages".into(), json!([entry]));
    out.insert("chatEnded".into(), json!(ended));
    out.insert("nextPosition".into(), json!(next));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{CometConfig, NewChat, ParticipantType};
    use std::time::Duration;

    #[tokio::test]
    async fn forwards_backlog_then_live_entries_until_the_end() {
        let chat = Arc::new(ChatServer::new());
        let comet = Arc::new(CometServer::with_chat(CometConfig::default(), chat.clone()));
        let reply = comet
            .handle_json(
                vec![json!({"channel": "/meta/handshake", "ext": {"gms_user": "dev"}})],
                None,
            )
            .await;
        let client = reply[0]["clientId"].as_str().unwrap().to_string();
        comet
            .handle_json(
                vec![json!({"channel": "/meta/subscribe", "clientId": client, "subscription": "/_genesys"})],
                None,
            )
            .await;
        let (summary, customer) = chat.request_chat(NewChat::default());
        comet
            .follow_chat(
                &summary.chat_id,
                Recipient::User("dev".into()),
                "/_genesys",
                1,
            )
            .unwrap();
        // A second follow of the same chat for the same user is ignored.
        comet
            .follow_chat(
                &summary.chat_id,
                Recipient::User("dev".into()),
                "/_genesys",
                1,
            )
            .unwrap();
        let agent = chat
            .join(&summary.chat_id, "Ann", ParticipantType::Agent)
            .unwrap();
        chat.send_message(&summary.chat_id, &agent.participant.participant_id, "hi")
            .unwrap();
        chat.end(&summary.chat_id).unwrap();
        let _ = customer;

        let mut got = Vec::new();
        while got.len() < 5 {
            let replies = tokio::time::timeout(
                Duration::from_secs(5),
                comet.handle_json(
                    vec![json!({"channel": "/meta/connect", "clientId": client, "advice": {"timeout": 2000}})],
                    None,
                ),
            )
            .await
            .unwrap();
            got.extend(replies.into_iter().filter(|r| r["channel"] == "/_genesys"));
        }
        let kinds: Vec<&str> = got
            .iter()
            .map(|m| m["data"]["messages"][0]["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "ParticipantJoined",
                "ParticipantJoined",
                "Message",
                "ParticipantLeft",
                "ParticipantLeft"
            ]
        );
        assert_eq!(got[4]["data"]["chatEnded"], true);
        assert_eq!(got[4]["data"]["nextPosition"], 6);
        assert_eq!(got[0]["data"]["chatEnded"], false);
    }
}
