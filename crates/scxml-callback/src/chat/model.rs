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
    pub nickname: String,
    #[serde(rename = "type")]
    pub kind: ParticipantType,
}

/// The kind of a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryType {
    ParticipantJoined,
    Message,
    TypingStarted,
    TypingStopped,
    ParticipantLeft,
    Notice,
}

/// One entry of a chat's transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptEntry {
    /// The position in the transcript, from 1.
    pub index: u64,
    #[serde(rename = "type")]
    pub kind: EntryType,
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
    pub subject: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The customer's nickname; by default "first last", or "Customer".
    pub nickname: Option<String>,
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
    pub chat_id: String,
    pub service_id: String,
    pub subject: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub state: ChatState,
    /// The participants present now.
    pub participants: Vec<Participant>,
    /// The index the next transcript entry will get.
    pub next_position: u64,
    pub user_data: Map<String, Value>,
    /// Creation time, epoch milliseconds.
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
}

/// A new transcript entry, as broadcast to a chat's listeners.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatUpdate {
    pub chat_id: String,
    pub entry: TranscriptEntry,
    /// True on the entry that ended the chat (and only then).
    pub chat_ended: bool,
}

/// The answer to a join: who joined, the key that authorises its operations, the entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    pub participant: Participant,
    /// Authorises Chat v2 operations for this participant (`secureKey`).
    pub secure_key: String,
    pub entry: TranscriptEntry,
}

/// A part of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    pub chat_id: String,
    /// The entries at and after the position asked for.
    pub messages: Vec<TranscriptEntry>,
    /// The position to ask for next time to get only newer entries.
    pub next_position: u64,
    pub chat_ended: bool,
}

/// Why a chat operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("unknown chat {0}")]
    UnknownChat(String),
    #[error("unknown participant {0}")]
    UnknownParticipant(String),
    #[error("participant {0} has left the chat")]
    NotPresent(String),
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
