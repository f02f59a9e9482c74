//! The chat server: every chat interaction, shared by the REST handlers, the CometD endpoint,
//! the flows and agent desktops.
//!
//! Thread-safe (one lock around the chats; operations are short and never block), and every
//! new transcript entry is broadcast to the chat's listeners ([`ChatServer::subscribe`]) in
//! transcript order, so the comet layer and agents can follow a chat as it happens.

use super::ids;
use super::interaction::ChatInteraction;
use super::model::{
    ChatError, ChatSummary, ChatUpdate, EntryType, Joined, NewChat, Participant, ParticipantType,
    Transcript, TranscriptEntry,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::broadcast;

/// How many updates a slow listener may fall behind before it lags (it can then catch up
/// from the transcript). Every chat allocates this many slots.
const LISTENER_CAPACITY: usize = 32;

struct Chat {
    interaction: ChatInteraction,
    listeners: broadcast::Sender<ChatUpdate>,
    /// Its participants' secure keys (entries of [`Chats::keys`]).
    secure_keys: Vec<String>,
}

#[derive(Default)]
struct Chats {
    by_id: HashMap<String, Chat>,
    /// Secure key -> chat id.
    keys: HashMap<String, String>,
}

/// Takes a chat and its participants' secure keys out of `chats`.
fn remove_chat(chats: &mut Chats, chat_id: &str) -> Option<Chat> {
    let chat = chats.by_id.remove(chat_id)?;
    for key in &chat.secure_keys {
        chats.keys.remove(key);
    }
    Some(chat)
}

/// All chat interactions.
#[derive(Default)]
pub struct ChatServer {
    chats: Mutex<Chats>,
}

impl std::fmt::Debug for ChatServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatServer")
            .field("chats", &self.lock().by_id.len())
            .finish()
    }
}

impl ChatServer {
    /// A chat server with no chats.
    pub fn new() -> ChatServer {
        ChatServer::default()
    }

    /// Creates a chat interaction with no participants yet.
    pub fn create(&self, request: NewChat) -> ChatSummary {
        let id = ids::token();
        let interaction = ChatInteraction::new(id.clone(), request, ids::now_ms());
        let summary = interaction.summary();
        let (listeners, _) = broadcast::channel(LISTENER_CAPACITY);
        self.lock().by_id.insert(
            id,
            Chat {
                interaction,
                listeners,
                secure_keys: Vec::new(),
            },
        );
        summary
    }

    /// Creates a chat and lets the customer join it (what `ixn/chat` and `requestChat` do).
    pub fn request_chat(&self, request: NewChat) -> (ChatSummary, Joined) {
        let nickname = request.customer_nickname();
        let summary = self.create(request);
        let joined = self
            .join(&summary.chat_id, &nickname, ParticipantType::Client)
            .expect("a chat just created is open");
        (summary, joined)
    }

    /// Adds a participant.
    pub fn join(
        &self,
        chat_id: &str,
        nickname: &str,
        kind: ParticipantType,
    ) -> Result<Joined, ChatError> {
        let secure_key = ids::token();
        let mut chats = self.lock();
        let chat = chat_mut(&mut chats, chat_id)?;
        let (participant, entry) =
            chat.interaction
                .join(nickname, kind, secure_key.clone(), ids::now_ms())?;
        broadcast(chat, &entry, false);
        chat.secure_keys.push(secure_key.clone());
        chats.keys.insert(secure_key.clone(), chat_id.to_string());
        Ok(Joined {
            participant,
            secure_key,
            entry,
        })
    }

    /// A participant's message `text`; broadcast, and returned as its transcript entry.
    pub fn send_message(
        &self,
        chat_id: &str,
        participant_id: &str,
        text: &str,
    ) -> Result<TranscriptEntry, ChatError> {
        self.post(
            chat_id,
            participant_id,
            EntryType::Message,
            Some(text.to_string()),
        )
    }

    /// `TypingStarted`, with an optional preview of the text being typed.
    pub fn start_typing(
        &self,
        chat_id: &str,
        participant_id: &str,
        preview: Option<&str>,
    ) -> Result<TranscriptEntry, ChatError> {
        self.post(
            chat_id,
            participant_id,
            EntryType::TypingStarted,
            preview.map(str::to_string),
        )
    }

    /// `TypingStopped`, with an optional copy of what was typed so far.
    pub fn stop_typing(
        &self,
        chat_id: &str,
        participant_id: &str,
        preview: Option<&str>,
    ) -> Result<TranscriptEntry, ChatError> {
        self.post(
            chat_id,
            participant_id,
            EntryType::TypingStopped,
            preview.map(str::to_string),
        )
    }

    /// A custom notice (Chat v2 `customNotice`) from a participant.
    pub fn custom_notice(
        &self,
        chat_id: &str,
        participant_id: &str,
        text: &str,
    ) -> Result<TranscriptEntry, ChatError> {
        self.post(
            chat_id,
            participant_id,
            EntryType::CustomNotice,
            Some(text.to_string()),
        )
    }

    /// A notice from outside the conversation (a flow, the server): `nickname` joins, posts
    /// `text` as a notice, and leaves.
    pub fn system_notice(
        &self,
        chat_id: &str,
        nickname: &str,
        text: &str,
    ) -> Result<(), ChatError> {
        let joined = self.join(chat_id, nickname, ParticipantType::External)?;
        let id = &joined.participant.participant_id;
        self.notice(chat_id, id, text)?;
        self.leave(chat_id, id)?;
        Ok(())
    }

    /// A notice from a participant (a flow's word to the customer).
    pub fn notice(
        &self,
        chat_id: &str,
        participant_id: &str,
        text: &str,
    ) -> Result<TranscriptEntry, ChatError> {
        self.post(
            chat_id,
            participant_id,
            EntryType::Notice,
            Some(text.to_string()),
        )
    }

    /// A participant leaves; the chat ends when nobody is left. Returns the
    /// `ParticipantLeft` entry and whether the chat ended.
    pub fn leave(
        &self,
        chat_id: &str,
        participant_id: &str,
    ) -> Result<(TranscriptEntry, bool), ChatError> {
        let mut chats = self.lock();
        let chat = chat_mut(&mut chats, chat_id)?;
        let (entry, ended) = chat.interaction.leave(participant_id, ids::now_ms())?;
        broadcast(chat, &entry, ended);
        Ok((entry, ended))
    }

    /// Ends a chat: everyone present leaves. Returns their `ParticipantLeft` entries.
    pub fn end(&self, chat_id: &str) -> Result<Vec<TranscriptEntry>, ChatError> {
        let mut chats = self.lock();
        let chat = chat_mut(&mut chats, chat_id)?;
        let entries = chat.interaction.end(ids::now_ms())?;
        let last = entries.len().saturating_sub(1);
        for (i, entry) in entries.iter().enumerate() {
            broadcast(chat, entry, i == last);
        }
        Ok(entries)
    }

    /// The transcript from `position` (1 = the first entry).
    pub fn transcript(&self, chat_id: &str, position: u64) -> Result<Transcript, ChatError> {
        let chats = self.lock();
        let chat = chats
            .by_id
            .get(chat_id)
            .ok_or_else(|| ChatError::UnknownChat(chat_id.to_string()))?;
        let interaction = &chat.interaction;
        Ok(Transcript {
            chat_id: chat_id.to_string(),
            messages: interaction.transcript_from(position).to_vec(),
            next_position: interaction.next_position(),
            chat_ended: interaction.state() == super::ChatState::Ended,
        })
    }

    /// The chat with this id as it is now, if there is one.
    pub fn get(&self, chat_id: &str) -> Option<ChatSummary> {
        self.lock()
            .by_id
            .get(chat_id)
            .map(|c| c.interaction.summary())
    }

    /// Every chat (ended ones too, until removed), oldest first.
    pub fn list(&self) -> Vec<ChatSummary> {
        let mut all: Vec<ChatSummary> = self
            .lock()
            .by_id
            .values()
            .map(|c| c.interaction.summary())
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.chat_id).cmp(&(b.created_at, &b.chat_id)));
        all
    }

    /// Forgets a chat (its listeners see the channel close).
    pub fn remove(&self, chat_id: &str) -> Option<ChatSummary> {
        let chat = remove_chat(&mut self.lock(), chat_id)?;
        Some(chat.interaction.summary())
    }

    /// Forgets the chats that ended more than `age_ms` milliseconds ago; returns their ids.
    pub fn purge_ended(&self, age_ms: u64) -> Vec<String> {
        let cutoff = ids::now_ms().saturating_sub(age_ms);
        let mut chats = self.lock();
        let old: Vec<String> = chats
            .by_id
            .iter()
            .filter(|(_, c)| c.interaction.ended_at().is_some_and(|t| t <= cutoff))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &old {
            remove_chat(&mut chats, id);
        }
        old
    }

    /// Follows a chat's new entries. Entries already in the transcript are not replayed:
    /// read them with [`ChatServer::transcript`] after subscribing.
    pub fn subscribe(&self, chat_id: &str) -> Result<broadcast::Receiver<ChatUpdate>, ChatError> {
        self.lock()
            .by_id
            .get(chat_id)
            .map(|c| c.listeners.subscribe())
            .ok_or_else(|| ChatError::UnknownChat(chat_id.to_string()))
    }

    /// The chat and participant a secure key belongs to.
    pub fn by_secure_key(&self, secure_key: &str) -> Option<(String, Participant)> {
        let chats = self.lock();
        let chat_id = chats.keys.get(secure_key)?;
        let participant = chats
            .by_id
            .get(chat_id)?
            .interaction
            .participant_by_key(secure_key)?
            .clone();
        Some((chat_id.clone(), participant))
    }

    /// Merges attached data into a chat's user data.
    pub fn update_user_data(
        &self,
        chat_id: &str,
        data: Map<String, Value>,
    ) -> Result<(), ChatError> {
        let mut chats = self.lock();
        chat_mut(&mut chats, chat_id)?
            .interaction
            .update_user_data(data);
        Ok(())
    }

    fn post(
        &self,
        chat_id: &str,
        participant_id: &str,
        kind: EntryType,
        text: Option<String>,
    ) -> Result<TranscriptEntry, ChatError> {
        let mut chats = self.lock();
        let chat = chat_mut(&mut chats, chat_id)?;
        let entry = chat
            .interaction
            .post(participant_id, kind, text, ids::now_ms())?;
        broadcast(chat, &entry, false);
        Ok(entry)
    }

    fn lock(&self) -> MutexGuard<'_, Chats> {
        self.chats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn chat_mut<'a>(chats: &'a mut Chats, chat_id: &str) -> Result<&'a mut Chat, ChatError> {
    chats
        .by_id
        .get_mut(chat_id)
        .ok_or_else(|| ChatError::UnknownChat(chat_id.to_string()))
}

/// Sends an entry to the chat's listeners (none listening is fine).
fn broadcast(chat: &Chat, entry: &TranscriptEntry, chat_ended: bool) {
    let _ = chat.listeners.send(ChatUpdate {
        chat_id: chat.interaction.id().to_string(),
        entry: entry.clone(),
        chat_ended,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatState;

    fn new_chat() -> NewChat {
        NewChat {
            service_id: "svc-1".into(),
            first_name: Some("John".into()),
            ..NewChat::default()
        }
    }

    #[test]
    fn typing_leave_and_end_when_all_leave() {
        let server = ChatServer::new();
        let (chat, customer) = server.request_chat(new_chat());
        let mut rx = server.subscribe(&chat.chat_id).unwrap();
        let agent = server
            .join(&chat.chat_id, "Ann", ParticipantType::Agent)
            .unwrap();
        let id = &chat.chat_id;
        let c = &customer.participant.participant_id;
        let a = &agent.participant.participant_id;
        server.start_typing(id, c, Some("he")).unwrap();
        server.stop_typing(id, c, None).unwrap();
        server.send_message(id, c, "hello").unwrap();
        server.leave(id, a).unwrap();
        assert_eq!(server.get(id).unwrap().state, ChatState::Waiting);
        let (_, ended) = server.leave(id, c).unwrap();
        assert!(ended);
        assert_eq!(server.get(id).unwrap().state, ChatState::Ended);

        let kinds: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|u| (u.entry.kind, u.entry.index, u.chat_ended))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (EntryType::ParticipantJoined, 2, false),
                (EntryType::TypingStarted, 3, false),
                (EntryType::TypingStopped, 4, false),
                (EntryType::Message, 5, false),
                (EntryType::ParticipantLeft, 6, false),
                (EntryType::ParticipantLeft, 7, true),
            ]
        );
        let t = server.transcript(id, 5).unwrap();
        assert_eq!(t.messages.len(), 3);
        assert_eq!(t.messages[0].text.as_deref(), Some("hello"));
        assert_eq!(t.next_position, 8);
        assert!(t.chat_ended);
        assert!(matches!(
            server.send_message(id, c, "late"),
            Err(ChatError::Ended(_))
        ));
    }

    #[test]
    fn secure_keys_list_and_errors() {
        let server = ChatServer::new();
        let (chat, customer) = server.request_chat(new_chat());
        let (id, p) = server.by_secure_key(&customer.secure_key).unwrap();
        assert_eq!(id, chat.chat_id);
        assert_eq!(p.nickname, "John");
        assert!(server.by_secure_key("nope").is_none());
        assert_eq!(server.list().len(), 1);
        assert_eq!(server.list()[0].service_id, "svc-1");
        assert!(matches!(
            server.send_message("nope", "1", "x"),
            Err(ChatError::UnknownChat(_))
        ));
        assert!(matches!(
            server.send_message(&chat.chat_id, "9", "x"),
            Err(ChatError::UnknownParticipant(_))
        ));
        assert!(server.purge_ended(0).is_empty());
        let left = server.end(&chat.chat_id).unwrap();
        assert_eq!(left.len(), 1);
        assert!(server.purge_ended(60_000).is_empty());
        assert!(server.remove(&chat.chat_id).is_some());
        assert!(server.by_secure_key(&customer.secure_key).is_none());
        assert!(server.list().is_empty());
    }
}
