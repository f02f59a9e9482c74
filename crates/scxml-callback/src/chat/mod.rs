//! The chat server and its CometD endpoint: what GMS's Chat Server and `/genesys/cometd` do
//! for the chat callback scenario.
//!
//! [`ChatServer`] keeps chat interactions (participants, messages, typing, notices, the
//! transcript with positions) and broadcasts new entries to listeners. [`CometServer`] speaks
//! Bayeux over HTTP long-polling: devices subscribe to `/_genesys` for pushes and Chat v1
//! events, and run Chat v2 operations on `/service/chatV2/<service>`. [`handle_cometd`] is the
//! HTTP entry point the server mounts at `/genesys/cometd`.
//!
//! Wiring: one `Arc<ChatServer>` shared by everything; one
//! `Arc<CometServer>` from [`CometServer::with_chat`]; the HTTP handler passes the request
//! body and its `gms_user` header to [`handle_cometd_for_user`] and answers the returned array
//! as JSON (400 on `Err`). Chat v1 (`ixn/chat`): [`ChatServer::request_chat`], answer
//! `{_id, _comet_channel: "/_genesys"}`, then [`CometServer::follow_chat`] with
//! `Recipient::User(gms_user)` on [`GENESYS_CHANNEL`] from position 1. Agents use
//! [`ChatServer::join`], [`ChatServer::send_message`], ... and [`ChatServer::subscribe`].

mod bayeux;
mod client;
mod comet;
mod follow;
mod handler;
mod ids;
mod interaction;
mod model;
mod send_type;
mod server;
mod v2;

pub use bayeux::{
    Advice, Delivery, Ext, Message, MessageId, Outgoing, Reconnect, Reply, Subscription,
};
pub use comet::{ChatRequested, CometConfig, CometServer, Recipient};
pub use handler::{decode_messages, handle_cometd, handle_cometd_for_user, DecodeError};
pub use interaction::ChatInteraction;
pub use model::{
    ChatError, ChatState, ChatSummary, ChatUpdate, EntryType, Joined, NewChat, Participant,
    ParticipantType, Transcript, TranscriptEntry,
};
pub use send_type::{ChatSendType, CHAT_SEND_TYPE_NAMES};
pub use server::ChatServer;
pub(crate) use v2::rest as chat_v2_rest;
pub use v2::CHANNEL_PREFIX as CHAT_V2_CHANNEL_PREFIX;

/// The channel devices subscribe to for callback pushes and Chat v1 events.
pub const GENESYS_CHANNEL: &str = "/_genesys";
