//! GMS Chat API v2 over CometD: the operations a customer publishes on
//! `/service/chatV2/<service name>`, and the answers delivered back on that channel.
//!
//! The published `data` is `{"operation": ..., ...}` with, per operation (names are matched
//! without regard to case):
//! - `requestChat` (`nickname`, `firstName`, `lastName`, `subject`, `emailAddress`,
//!   `userData{}`, optional `serviceId`, else the service name of the channel): creates the
//!   chat, the customer joins; the answer carries `chatId`, `userId` (the participant id),
//!   `secureKey`, `alias` and the `ParticipantJoined` entry.
//! - `sendMessage` (`message`), `startTyping`/`stopTyping` (`message` = preview),
//!   `customNotice` (`message`, a `CustomNotice` entry), `disconnect` (the customer leaves),
//!   `updateData` (`userData{}`), each with the `secureKey` from `requestChat`.
//! - `requestNotifications` (`secureKey`, `transcriptPosition`): the transcript from that
//!   position, then live entries again (after a reconnect with a new client id).
//!
//! Every answer is `{"statusCode": 0, "chatEnded", "nextPosition", ...}`, or on failure
//! `{"statusCode": 1, "errors": [{"code", "advice"}]}` with code 101 missing parameter, 102
//! unknown secure key or chat, 103 chat ended, 104 participant not in the chat, 105
//! unsupported operation. After `requestChat`/`requestNotifications`, each new transcript
//! entry (the other side's messages, typing, joins and leaves, and the customer's own) is
//! delivered as `{"statusCode": 0, "chatId", "messages": [entry], "chatEnded",
//! "nextPosition", "secureKey", "userId", "alias"}` until the chat ends or the customer leaves.

use super::client::CometClient;
use super::comet::{CometServer, Recipient};
use super::follow::{self, Follow};
use super::model::{ChatError, NewChat, Participant};
use super::server::ChatServer;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The channel prefix of Chat v2 service channels.
pub const CHANNEL_PREFIX: &str = "/service/chatV2/";

/// Chat Server's alias in answers (we are a single chat server).
const ALIAS: &str = "0";

const MISSING_PARAMETER: u32 = 101;
const UNKNOWN_KEY: u32 = 102;
const CHAT_ENDED: u32 = 103;
const NOT_PRESENT: u32 = 104;
const UNSUPPORTED: u32 = 105;

/// Handles one publish on `/service/chatV2/<service>`; the answer is queued for the client.
pub(crate) fn handle(
    comet: &Arc<CometServer>,
    chat: &Arc<ChatServer>,
    client: &Arc<CometClient>,
    channel: &str,
    service: &str,
    data: &Value,
) {
    let op = text(data, "operation")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let to = Recipient::Client(client.id().to_string());
    let answer = match op.as_str() {
        "requestchat" => {
            let answer = request_chat(chat, &to, channel, service, data);
            if let Ok((_, Some(follow))) = &answer {
                comet.chat_requested(&follow.chat_id, service);
            }
            answer
        }
        "requestnotifications" => request_notifications(chat, &to, channel, data),
        "sendmessage" | "starttyping" | "stoptyping" | "customnotice" | "disconnect"
        | "updatedata" => participant_op(chat, &op, data).map(|a| (a, None)),
        "" => Err((MISSING_PARAMETER, "operation is required".to_string())),
        other => Err((UNSUPPORTED, format!("unsupported operation {other}"))),
    };
    let (data, follow) = answer.unwrap_or_else(|(code, advice)| {
        (
            json!({"statusCode": 1, "errors": [{"code": code, "advice": advice}]}),
            None,
        )
    });
    // The answer first, then the live entries (the follower catches up from its position).
    comet.deliver(&to, channel, data);
    if let Some(follow) = follow {
        if let Err(e) = follow::spawn(comet, chat.clone(), follow) {
            tracing::debug!("chat v2: not following: {e}");
        }
    }
}

type Answer = Result<Value, (u32, String)>;
/// An answer, and the entries to forward afterwards.
type Subscribed = Result<(Value, Option<Follow>), (u32, String)>;

/// The chat a `requestChat` asks for.
fn new_chat(service: &str, data: &Value) -> NewChat {
    NewChat {
        service_id: text(data, "serviceId").unwrap_or_else(|| service.to_string()),
        subject: text(data, "subject"),
        first_name: text(data, "firstName"),
        last_name: text(data, "lastName"),
        nickname: text(data, "nickname"),
        email: text(data, "emailAddress").or_else(|| text(data, "email")),
        user_data: data
            .get("userData")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    }
}

fn request_chat(
    chat: &ChatServer,
    to: &Recipient,
    channel: &str,
    service: &str,
    data: &Value,
) -> Subscribed {
    let (summary, joined) = chat.request_chat(new_chat(service, data));
    let identity = identity(&joined.secure_key, &joined.participant);
    let next = joined.entry.index + 1;
    let follow = Follow {
        chat_id: summary.chat_id.clone(),
        to: to.clone(),
        channel: channel.to_string(),
        from: next,
        extra: identity.clone(),
        until_left: Some(joined.participant.participant_id.clone()),
    };
    let mut out = identity;
    out.insert("statusCode".into(), json!(0));
    out.insert("chatEnded".into(), json!(false));
    out.insert("chatId".into(), json!(summary.chat_id));
    out.insert("messages".into(), json!([joined.entry]));
    out.insert("nextPosition".into(), json!(next));
    Ok((Value::Object(out), Some(follow)))
}

fn request_notifications(
    chat: &ChatServer,
    to: &Recipient,
    channel: &str,
    data: &Value,
) -> Subscribed {
    let (chat_id, participant, key) = resolve(chat, data)?;
    let from = text(data, "transcriptPosition")
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1);
    let transcript = chat.transcript(&chat_id, from).map_err(error)?;
    let identity = identity(&key, &participant);
    let follow = (!transcript.chat_ended).then(|| Follow {
        chat_id: chat_id.clone(),
        to: to.clone(),
        channel: channel.to_string(),
        from: transcript.next_position,
        extra: identity.clone(),
        until_left: Some(participant.participant_id.clone()),
    });
    let mut out = identity;
    out.insert("statusCode".into(), json!(0));
    out.insert("chatEnded".into(), json!(transcript.chat_ended));
    out.insert("chatId".into(), json!(chat_id));
    out.insert("messages".into(), json!(transcript.messages));
    out.insert("nextPosition".into(), json!(transcript.next_position));
    Ok((Value::Object(out), follow))
}

/// The operations of a participant identified by its secure key.
fn participant_op(chat: &ChatServer, op: &str, data: &Value) -> Answer {
    let (chat_id, participant, _) = resolve(chat, data)?;
    let pid = participant.participant_id.as_str();
    let message = text(data, "message");
    match op {
        "sendmessage" => {
            let message = message.ok_or((MISSING_PARAMETER, "message is required".to_string()))?;
            chat.send_message(&chat_id, pid, &message).map(drop)
        }
        "starttyping" => chat
            .start_typing(&chat_id, pid, message.as_deref())
            .map(drop),
        "stoptyping" => chat
            .stop_typing(&chat_id, pid, message.as_deref())
            .map(drop),
        "customnotice" => chat
            .custom_notice(&chat_id, pid, message.as_deref().unwrap_or_default())
            .map(drop),
        "disconnect" => chat.leave(&chat_id, pid).map(drop),
        _ => {
            let user_data = data
                .get("userData")
                .and_then(Value::as_object)
                .cloned()
                .ok_or((MISSING_PARAMETER, "userData is required".to_string()))?;
            chat.update_user_data(&chat_id, user_data)
        }
    }
    .map_err(error)?;
    let transcript = chat.transcript(&chat_id, u64::MAX).map_err(error)?;
    Ok(json!({
        "statusCode": 0,
        "chatEnded": transcript.chat_ended,
        "nextPosition": transcript.next_position,
    }))
}

/// A Chat v2 operation over REST (`POST /genesys/2/chat/{service}[/{chatId}/{operation}]`,
/// form fields as over CometD; `userData[key]=value` fields gathered into `userData`).
/// `requestChat` (no chat id) creates the chat; the others act as the participant whose
/// `secureKey` they carry, on the chat of the path, and answer the transcript from
/// `transcriptPosition` (default: only what is new) as `refresh` does. Answers the body
/// (`statusCode` 0, or 1 with `errors`) and, for a new chat, its id.
pub(crate) fn rest(
    chat: &ChatServer,
    service: &str,
    chat_id: Option<&str>,
    operation: &str,
    data: &Value,
) -> (Value, Option<String>) {
    let op = operation.to_ascii_lowercase();
    let answer = match (chat_id, op.as_str()) {
        (None, "requestchat") => {
            let (summary, joined) = chat.request_chat(new_chat(service, data));
            let mut out = identity(&joined.secure_key, &joined.participant);
            out.insert("statusCode".into(), json!(0));
            out.insert("chatEnded".into(), json!(false));
            out.insert("chatId".into(), json!(summary.chat_id));
            out.insert("messages".into(), json!([joined.entry]));
            out.insert("nextPosition".into(), json!(joined.entry.index + 1));
            return (Value::Object(out), Some(summary.chat_id));
        }
        (Some(path_chat), op) => rest_operation(chat, path_chat, op, data),
        (None, other) => Err((UNSUPPORTED, format!("{other} needs a chat id in the path"))),
    };
    let body = answer.unwrap_or_else(
        |(code, advice)| json!({"statusCode": 1, "errors": [{"code": code, "advice": advice}]}),
    );
    (body, None)
}

fn rest_operation(chat: &ChatServer, path_chat: &str, op: &str, data: &Value) -> Answer {
    let (chat_id, participant, key) = resolve(chat, data)?;
    if chat_id != path_chat {
        return Err((UNKNOWN_KEY, "the secureKey is not of this chat".to_string()));
    }
    // The transcript before the operation: a send answers with what the customer missed.
    let from = text(data, "transcriptPosition").and_then(|p| p.parse::<u64>().ok());
    match op {
        "refresh" => {}
        "sendmessage" | "send" => {
            participant_op(chat, "sendmessage", data)?;
        }
        "starttyping" | "stoptyping" | "customnotice" | "disconnect" | "updatedata" => {
            participant_op(chat, op, data)?;
        }
        other => return Err((UNSUPPORTED, format!("unsupported operation {other}"))),
    }
    let transcript = chat
        .transcript(&chat_id, from.unwrap_or(u64::MAX))
        .map_err(error)?;
    let mut out = identity(&key, &participant);
    out.insert("statusCode".into(), json!(0));
    out.insert("chatId".into(), json!(chat_id));
    out.insert("chatEnded".into(), json!(transcript.chat_ended));
    out.insert("messages".into(), json!(transcript.messages));
    out.insert("nextPosition".into(), json!(transcript.next_position));
    Ok(Value::Object(out))
}

fn resolve(
    chat: &ChatServer,
    data: &Value,
) -> Result<(String, Participant, String), (u32, String)> {
    let key =
        text(data, "secureKey").ok_or((MISSING_PARAMETER, "secureKey is required".to_string()))?;
    let (chat_id, participant) = chat
        .by_secure_key(&key)
        .ok_or((UNKNOWN_KEY, "unknown secureKey".to_string()))?;
    Ok((chat_id, participant, key))
}

/// The fields that tell the customer who it is in the chat.
fn identity(secure_key: &str, participant: &Participant) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("secureKey".into(), json!(secure_key));
    out.insert("userId".into(), json!(participant.participant_id));
    out.insert("alias".into(), json!(ALIAS));
    out
}

fn error(e: ChatError) -> (u32, String) {
    let code = match e {
        ChatError::UnknownChat(_) => UNKNOWN_KEY,
        ChatError::Ended(_) => CHAT_ENDED,
        ChatError::UnknownParticipant(_) | ChatError::NotPresent(_) => NOT_PRESENT,
    };
    (code, e.to_string())
}

/// A string field (numbers accepted and written out).
fn text(data: &Value, key: &str) -> Option<String> {
    match data.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{CometConfig, ParticipantType};
    use std::time::Duration;

    const CH: &str = "/service/chatV2/customer-support";

    struct Customer {
        comet: Arc<CometServer>,
        client: String,
    }

    impl Customer {
        async fn new(comet: &Arc<CometServer>) -> Customer {
            let r = comet
                .handle_json(vec![json!({"channel": "/meta/handshake"})], None)
                .await;
            let client = r[0]["clientId"].as_str().unwrap().to_string();
            let r = comet
                .handle_json(
                    vec![json!({"channel": "/meta/subscribe", "clientId": client, "subscription": CH})],
                    None,
                )
                .await;
            assert_eq!(r[0]["successful"], true);
            Customer {
                comet: comet.clone(),
                client,
            }
        }

        /// Publishes an operation and returns the answer's data (it comes with the reply).
        async fn op(&self, data: Value) -> Value {
            let r = self
                .comet
                .handle_json(
                    vec![json!({"channel": CH, "clientId": self.client, "data": data, "id": "p"})],
                    None,
                )
                .await;
            assert_eq!(r[0]["successful"], true, "{r:?}");
            // Entries forwarded earlier may come first; the answer was queued last.
            let last = r.last().unwrap();
            assert_eq!(last["channel"], CH);
            last["data"].clone()
        }

        /// Long-polls until `n` deliveries on the chat channel arrived.
        async fn poll(&self, n: usize) -> Vec<Value> {
            let mut got = Vec::new();
            while got.len() < n {
                let r = tokio::time::timeout(
                    Duration::from_secs(5),
                    self.comet.handle_json(
                        vec![json!({"channel": "/meta/connect", "clientId": self.client, "advice": {"timeout": 1000}})],
                        None,
                    ),
                )
                .await
                .unwrap();
                got.extend(
                    r.into_iter()
                        .filter(|m| m["channel"] == CH)
                        .map(|m| m["data"].clone()),
                );
            }
            got
        }
    }

    #[tokio::test]
    async fn chat_v2_over_cometd() {
        let chat = Arc::new(ChatServer::new());
        let comet = Arc::new(CometServer::with_chat(CometConfig::default(), chat.clone()));
        let customer = Customer::new(&comet).await;

        let answer = customer
            .op(
                json!({"operation": "requestChat", "nickname": "Jo", "subject": "Loans",
                       "userData": {"service_id": "369-abc"}}),
            )
            .await;
        assert_eq!(answer["statusCode"], 0);
        assert_eq!(answer["chatEnded"], false);
        assert_eq!(answer["messages"][0]["type"], "ParticipantJoined");
        assert_eq!(answer["messages"][0]["from"]["type"], "Client");
        assert_eq!(answer["messages"][0]["from"]["nickname"], "Jo");
        assert_eq!(answer["nextPosition"], 2);
        let key = answer["secureKey"].as_str().unwrap().to_string();
        let chat_id = answer["chatId"].as_str().unwrap().to_string();
        let summary = chat.get(&chat_id).unwrap();
        assert_eq!(summary.service_id, "customer-support");
        assert_eq!(summary.user_data["service_id"], "369-abc");

        // The agent joins and writes: the customer gets both entries on its long poll.
        let agent = chat.join(&chat_id, "Ann", ParticipantType::Agent).unwrap();
        chat.send_message(&chat_id, &agent.participant.participant_id, "Hello Jo")
            .unwrap();
        let got = customer.poll(2).await;
        assert_eq!(got[0]["messages"][0]["type"], "ParticipantJoined");
        assert_eq!(got[0]["messages"][0]["from"]["type"], "Agent");
        assert_eq!(got[1]["messages"][0]["text"], "Hello Jo");
        assert_eq!(got[1]["secureKey"], key.as_str());
        assert_eq!(got[1]["nextPosition"], 4);

        let a = customer
            .op(json!({"operation": "StartTyping", "secureKey": key, "message": "th"}))
            .await;
        assert_eq!(a["statusCode"], 0);
        let a = customer
            .op(json!({"operation": "SendMessage", "secureKey": key, "message": "thanks"}))
            .await;
        assert_eq!(a["statusCode"], 0);
        assert_eq!(a["nextPosition"], 6);

        // Errors.
        let a = customer
            .op(json!({"operation": "sendMessage", "secureKey": "bogus", "message": "x"}))
            .await;
        assert_eq!(a["statusCode"], 1);
        assert_eq!(a["errors"][0]["code"], 102);
        let a = customer.op(json!({"operation": "fly"})).await;
        assert_eq!(a["errors"][0]["code"], 105);

        // Resume from a position on a new client.
        let other = Customer::new(&comet).await;
        let a = other
            .op(json!({"operation": "requestNotifications", "secureKey": key, "transcriptPosition": 4}))
            .await;
        let kinds: Vec<&str> = a["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["TypingStarted", "Message"]);
        assert_eq!(a["nextPosition"], 6);

        let a = customer
            .op(json!({"operation": "disconnect", "secureKey": key}))
            .await;
        assert_eq!(a["statusCode"], 0);
        assert_eq!(a["chatEnded"], false); // the agent is still there
        chat.leave(&chat_id, &agent.participant.participant_id)
            .unwrap();
        assert!(chat.transcript(&chat_id, 1).unwrap().chat_ended);
        let a = customer
            .op(json!({"operation": "sendMessage", "secureKey": key, "message": "late"}))
            .await;
        assert_eq!(a["errors"][0]["code"], 103);
    }

    #[tokio::test]
    async fn chat_v2_needs_a_chat_server() {
        let comet = Arc::new(CometServer::new(CometConfig::default()));
        let r = comet
            .handle_json(vec![json!({"channel": "/meta/handshake"})], None)
            .await;
        let client = r[0]["clientId"].as_str().unwrap();
        let r = comet
            .handle_json(
                vec![json!({"channel": CH, "clientId": client, "data": {"operation": "requestChat"}})],
                None,
            )
            .await;
        assert_eq!(r[0]["successful"], false);
    }
}
