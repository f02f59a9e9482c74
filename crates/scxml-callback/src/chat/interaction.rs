//! One chat interaction: its participants and transcript, and the rules that change them.
//!
//! Plain data with no locking or I/O: [`super::ChatServer`] keeps these behind a lock and
//! broadcasts the entries they return. Times are passed in so the rules are easy to test.

use super::model::{
    ChatError, ChatState, ChatSummary, EntryType, NewChat, Participant, ParticipantType,
    TranscriptEntry,
};

/// A participant and whether it is still in the chat.
#[derive(Debug, Clone)]
struct Member {
    participant: Participant,
    secure_key: String,
    present: bool,
}

/// A chat interaction.
#[derive(Debug, Clone)]
pub struct ChatInteraction {
    id: String,
    request: NewChat,
    state: ChatState,
    members: Vec<Member>,
    transcript: Vec<TranscriptEntry>,
    created_at: u64,
    ended_at: Option<u64>,
}

impl ChatInteraction {
    /// A chat just requested: waiting for an agent, no participants yet, created at `now`
    /// (ms since the epoch).
    pub fn new(id: String, request: NewChat, now: u64) -> ChatInteraction {
        ChatInteraction {
            id,
            request,
            state: ChatState::Waiting,
            members: Vec::new(),
            transcript: Vec::new(),
            created_at: now,
            ended_at: None,
        }
    }

    /// The chat's id, as the customer and the agents name it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the chat stands: waiting for an agent, with one, or ended.
    pub fn state(&self) -> ChatState {
        self.state
    }

    /// When the chat ended (ms since the epoch), if it did.
    pub fn ended_at(&self) -> Option<u64> {
        self.ended_at
    }

    /// The index the next entry gets (entries are numbered from 1).
    pub fn next_position(&self) -> u64 {
        self.transcript.len() as u64 + 1
    }

    /// Adds a participant; returns it and its `ParticipantJoined` entry.
    pub fn join(
        &mut self,
        nickname: &str,
        kind: ParticipantType,
        secure_key: String,
        now: u64,
    ) -> Result<(Participant, TranscriptEntry), ChatError> {
        self.check_open()?;
        let participant = Participant {
            participant_id: (self.members.len() + 1).to_string(),
            nickname: nickname.to_string(),
            kind,
        };
        self.members.push(Member {
            participant: participant.clone(),
            secure_key,
            present: true,
        });
        self.update_state();
        let entry = self.append(EntryType::ParticipantJoined, participant.clone(), None, now);
        Ok((participant, entry))
    }

    /// A message, typing notice or notice from a present participant.
    pub fn post(
        &mut self,
        participant_id: &str,
        kind: EntryType,
        text: Option<String>,
        now: u64,
    ) -> Result<TranscriptEntry, ChatError> {
        self.check_open()?;
        let from = self.present(participant_id)?.participant.clone();
        Ok(self.append(kind, from, text, now))
    }

    /// A participant leaves; the chat ends when it was the last one. Returns the
    /// `ParticipantLeft` entry and whether the chat ended.
    pub fn leave(
        &mut self,
        participant_id: &str,
        now: u64,
    ) -> Result<(TranscriptEntry, bool), ChatError> {
        self.check_open()?;
        let member = self.present(participant_id)?;
        let from = member.participant.clone();
        if let Some(m) = self
            .members
            .iter_mut()
            .find(|m| m.participant.participant_id == participant_id)
        {
            m.present = false;
        }
        let entry = self.append(EntryType::ParticipantLeft, from, None, now);
        let ended = !self.members.iter().any(|m| m.present);
        if ended {
            self.finish(now);
        } else {
            self.update_state();
        }
        Ok((entry, ended))
    }

    /// Ends the chat: every present participant leaves. Returns their `ParticipantLeft`
    /// entries (none when nobody was present).
    pub fn end(&mut self, now: u64) -> Result<Vec<TranscriptEntry>, ChatError> {
        self.check_open()?;
        let present: Vec<Participant> = self
            .members
            .iter_mut()
            .filter(|m| m.present)
            .map(|m| {
                m.present = false;
                m.participant.clone()
            })
            .collect();
        let entries = present
            .into_iter()
            .map(|p| self.append(EntryType::ParticipantLeft, p, None, now))
            .collect();
        self.finish(now);
        Ok(entries)
    }

    /// The entries at and after `position` (1 is the first entry; 0 is taken as 1).
    pub fn transcript_from(&self, position: u64) -> &[TranscriptEntry] {
        let start = (position.max(1) - 1).min(self.transcript.len() as u64) as usize;
        &self.transcript[start..]
    }

    /// The participant a secure key belongs to.
    pub fn participant_by_key(&self, secure_key: &str) -> Option<&Participant> {
        self.members
            .iter()
            .find(|m| m.secure_key == secure_key)
            .map(|m| &m.participant)
    }

    /// Merges attached data (Chat v2 `updateData`).
    pub fn update_user_data(&mut self, data: serde_json::Map<String, serde_json::Value>) {
        self.request.user_data.extend(data);
    }

    /// The chat as listed to agents: who asked, about what, its state and who is in it.
    pub fn summary(&self) -> ChatSummary {
        ChatSummary {
            chat_id: self.id.clone(),
            service_id: self.request.service_id.clone(),
            subject: self.request.subject.clone(),
            first_name: self.request.first_name.clone(),
            last_name: self.request.last_name.clone(),
            email: self.request.email.clone(),
            state: self.state,
            participants: self
                .members
                .iter()
                .filter(|m| m.present)
                .map(|m| m.participant.clone())
                .collect(),
            next_position: self.next_position(),
            user_data: self.request.user_data.clone(),
            created_at: self.created_at,
            ended_at: self.ended_at,
        }
    }

    fn check_open(&self) -> Result<(), ChatError> {
        if self.state == ChatState::Ended {
            Err(ChatError::Ended(self.id.clone()))
        } else {
            Ok(())
        }
    }

    fn present(&self, participant_id: &str) -> Result<&Member, ChatError> {
        let member = self
            .members
            .iter()
            .find(|m| m.participant.participant_id == participant_id)
            .ok_or_else(|| ChatError::UnknownParticipant(participant_id.to_string()))?;
        if member.present {
            Ok(member)
        } else {
            Err(ChatError::NotPresent(participant_id.to_string()))
        }
    }

    fn append(
        &mut self,
        kind: EntryType,
        from: Participant,
        text: Option<String>,
        now: u64,
    ) -> TranscriptEntry {
        let entry = TranscriptEntry {
            index: self.next_position(),
            kind,
            from,
            text,
            utc_time: now,
        };
        self.transcript.push(entry.clone());
        entry
    }

    fn update_state(&mut self) {
        let agent_present = self
            .members
            .iter()
            .any(|m| m.present && m.participant.kind == ParticipantType::Agent);
        self.state = if agent_present {
            ChatState::Connected
        } else {
            ChatState::Waiting
        };
    }

    fn finish(&mut self, now: u64) {
        self.state = ChatState::Ended;
        self.ended_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> ChatInteraction {
        ChatInteraction::new("c1".into(), NewChat::default(), 1000)
    }

    #[test]
    fn positions_and_transcript_from() {
        let mut c = chat();
        let (customer, joined) = c
            .join("Jo", ParticipantType::Client, "k1".into(), 1)
            .unwrap();
        assert_eq!(joined.index, 1);
        assert_eq!(customer.participant_id, "1");
        let m = c
            .post("1", EntryType::Message, Some("hi".into()), 2)
            .unwrap();
        assert_eq!(m.index, 2);
        assert_eq!(c.next_position(), 3);
        assert_eq!(c.transcript_from(0).len(), 2);
        assert_eq!(c.transcript_from(2)[0].text.as_deref(), Some("hi"));
        assert!(c.transcript_from(3).is_empty());
        assert!(c.transcript_from(99).is_empty());
    }

    #[test]
    fn state_follows_agents_and_last_leave_ends() {
        let mut c = chat();
        c.join("Jo", ParticipantType::Client, "k1".into(), 1)
            .unwrap();
        assert_eq!(c.state(), ChatState::Waiting);
        c.join("Ann", ParticipantType::Agent, "k2".into(), 2)
            .unwrap();
        assert_eq!(c.state(), ChatState::Connected);
        let (_, ended) = c.leave("2", 3).unwrap();
        assert!(!ended);
        assert_eq!(c.state(), ChatState::Waiting);
        assert_eq!(c.leave("2", 3), Err(ChatError::NotPresent("2".into())));
        let (left, ended) = c.leave("1", 4).unwrap();
        assert!(ended);
        assert_eq!(left.kind, EntryType::ParticipantLeft);
        assert_eq!(c.state(), ChatState::Ended);
        assert_eq!(
            c.post("1", EntryType::Message, None, 5),
            Err(ChatError::Ended("c1".into()))
        );
    }

    #[test]
    fn explicit_end_removes_everyone() {
        let mut c = chat();
        c.join("Jo", ParticipantType::Client, "k1".into(), 1)
            .unwrap();
        c.join("Ann", ParticipantType::Agent, "k2".into(), 2)
            .unwrap();
        let left = c.end(3).unwrap();
        assert_eq!(left.len(), 2);
        assert_eq!(c.summary().state, ChatState::Ended);
        assert!(c.summary().participants.is_empty());
        assert_eq!(c.summary().ended_at, Some(3));
    }
}
