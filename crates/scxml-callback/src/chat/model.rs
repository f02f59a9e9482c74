//! The data of a chat as clients see it: participants, transcript entries, chat summaries.
//!
//! Field names and values follow the GMS Chat v2 API (`participantId`, `type: "Client"`,
//! `index`, `utcTime` in epoch milliseconds), so the same JSON serves the CometD channel, the
//! REST chat API and the flows.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who a participant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParticipantType {
    /// The customer.
    Client,
    /// A contact-centre agent (joined from the agent desktop or the agents API).
    Agent,
    /// A bot or another system.
    External,
}

/// A participant of a chat (`from` of transcript entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// Unique within the chat ("1", "2", ... in joining order).
    pub participant_id: String,
    /// The name shown to the others: the customer's given or made-up name, an agent's.
    pub nickname: String,
    /// Customer, agent or system (`type` in JSON).
    #[serde(rename = "type")]
    pub kind: ParticipantType,
}

/// The kind of a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryType {
    /// `from` joined the chat.
    ParticipantJoined,
    /// `from` wrote `text`.
    Message,
    /// `from` started typing; `text` may preview what is being typed.
    TypingStarted,
    /// `from` stopped typing; `text` may hold what was typed so far.
    TypingStopped,
    /// `from` left the chat; the last one leaving ends it.
    ParticipantLeft,
    /// A notice from `from` (a flow's "Please hold", "No agent is available").
    Notice,
    /// A custom notice the customer's application sent (Chat v2 `customNotice`): for the
    /// agent's desktop to read, not a message of the conversation.
    CustomNotice,
}

/// One entry of a chat's transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptEntry {
    /// The position in the transcript, from 1.
    pub index: u64,
    /// What happened (`type` in JSON).
    #[serde(rename = "type")]
    pub kind: EntryType,
    /// The participant it happened to or who wrote it.
    pub from: Participant,
    /// The message or notice text, or the typing preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// UTC time in milliseconds since the Unix epoch.
    pub utc_time: u64,
}

/// The life of a chat interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChatState {
    /// Created; no agent is present (yet, or any more).
    Waiting,
    /// At least one agent is present.
    Connected,
    /// Ended: every participant left, or it was ended explicitly. Read-only from now on.
    Ended,
}

/// What a customer gives when asking for a chat (Chat v1 `ixn/chat` form fields, Chat v2
/// `requestChat`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewChat {
    /// The service the chat belongs to: the callback service id for Chat v1 `ixn/chat`, the
    /// service name of the channel (or the request's `serviceId`) for Chat v2.
    pub service_id: String,
    /// What the customer wants to talk about, shown to agents.
    pub subject: Option<String>,
    /// The customer's first name, shown to agents and part of the default nickname.
    pub first_name: Option<String>,
    /// The customer's last name, shown to agents and part of the default nickname.
    pub last_name: Option<String>,
    /// The customer's nickname; by default "first last", or "Customer".
    pub nickname: Option<String>,
    /// The customer's e-mail address (`email` or `emailAddress`), shown to agents.
    #[serde(alias = "emailAddress")]
    pub email: Option<String>,
    /// Attached data (Chat v2 `userData`), e.g. what routing uses to find the service.
    pub user_data: Map<String, Value>,
}

impl NewChat {
    /// The nickname the customer joins with.
    pub fn customer_nickname(&self) -> String {
        if let Some(nick) = self.nickname.as_deref().filter(|n| !n.trim().is_empty()) {
            return nick.trim().to_string();
        }
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            "Customer".to_string()
        } else {
            name
        }
    }
}

/// A chat as listed: its request, state and present participants.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatSummary {
    /// The chat's id.
    pub chat_id: String,
    /// The service it belongs to, as requested ([`NewChat::service_id`]).
    pub service_id: String,
    /// The request's subject.
    pub subject: Option<String>,
    /// The customer's first name, as requested.
    pub first_name: Option<String>,
    /// The customer's last name, as requested.
    pub last_name: Option<String>,
    /// The customer's e-mail address, as requested.
    pub email: Option<String>,
    /// Waiting, connected or ended.
    pub state: ChatState,
    /// The participants present now.
    pub participants: Vec<Participant>,
    /// The index the next transcript entry will get.
    pub next_position: u64,
    /// The attached data: the request's, merged with later Chat v2 `updateData`.
    pub user_data: Map<String, Value>,
    /// Creation time, epoch milliseconds.
    pub created_at: u64,
    /// When the chat ended, epoch milliseconds; absent while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
}

/// A new transcript entry, as broadcast to a chat's listeners.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatUpdate {
    /// The chat the entry was added to.
    pub chat_id: String,
    /// The entry, with its transcript position.
    pub entry: TranscriptEntry,
    /// True on the entry that ended the chat (and only then).
    pub chat_ended: bool,
}

/// The answer to a join: who joined, the key that authorises its operations, the entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// The participant as the others see it, with its new id.
    pub participant: Participant,
    /// Authorises Chat v2 operations for this participant (`secureKey`).
    pub secure_key: String,
    /// The `ParticipantJoined` entry, as broadcast.
    pub entry: TranscriptEntry,
}

/// A part of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    /// The chat it is from.
    pub chat_id: String,
    /// The entries at and after the position asked for.
    pub messages: Vec<TranscriptEntry>,
    /// The position to ask for next time to get only newer entries.
    pub next_position: u64,
    /// True when the chat has ended: no entries will follow.
    pub chat_ended: bool,
}

/// Why a chat operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// No chat has this id (never created, or removed); or there is no chat server.
    #[error("unknown chat {0}")]
    UnknownChat(String),
    /// The chat has no participant with this id.
    #[error("unknown participant {0}")]
    UnknownParticipant(String),
    /// The participant with this id was in the chat but has left it.
    #[error("participant {0} has left the chat")]
    NotPresent(String),
    /// The chat with this id has ended and takes no more entries.
    #[error("chat {0} has ended")]
    Ended(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_serialises_like_chat_v2() {
        let entry = TranscriptEntry {
            index: 1,
            kind: EntryType::ParticipantJoined,
            from: Participant {
                participant_id: "1".into(),
                nickname: "Jo".into(),
                kind: ParticipantType::Client,
            },
            text: None,
            utc_time: 1432845088000,
        };
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            json!({"index": 1, "type": "ParticipantJoined", "utcTime": 1432845088000u64,
                   "from": {"participantId": "1", "nickname": "Jo", "type": "Client"}})
        );
    }

    #[test]
    fn nickname_defaults() {
        let mut chat = NewChat::default();
        assert_eq!(chat.customer_nickname(), "Customer");
        chat.first_name = Some("John".into());
        chat.last_name = Some("Hill".into());
        assert_eq!(chat.customer_nickname(), "John Hill");
        chat.nickname = Some("jh".into());
        assert_eq!(chat.customer_nickname(), "jh");
    }
}
