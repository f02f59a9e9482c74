//! The GMS verbs: every request of the callback API that a flow answers, by name.
//!
//! A request becomes the external event `gms.<event name>` of the service's session
//! ([`Verb::event_name`]: the URL's name with `-` written `_`, since SCXML event descriptors
//! treat `-` like any other character but flows read better with one spelling). The verbs of
//! `POST service/{id}/{verb}` are parsed from the URL ([`Verb::from_path`]); the others come
//! from the request's method and shape (create, get, cancel, reschedule, the chat).

use std::fmt;

/// A request a flow answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `POST service/callback/{service}`: a new callback.
    Start,
    /// `GET service/{id}` (or `service/callback/{service}/{id}`): the record.
    Get,
    /// `DELETE service/{id}`: cancel the callback.
    Cancel,
    /// `PUT service/callback/{service}/{id}`: a new desired time.
    Reschedule,
    /// `POST service/{id}/ixn/chat`: the customer's chat interaction.
    IxnChat,
    /// `POST service/{id}/connect`: the customer confirms.
    Connect,
    /// `POST service/{id}/check-queue-position`.
    CheckQueuePosition,
    /// `POST service/{id}/internal-notification`: a message pushed to the device.
    InternalNotification,
    /// `POST service/{id}/retrieve-notifications`: the device polls its messages.
    RetrieveNotifications,
    /// `POST service/{id}/agent-notification`: the device writes to the agent.
    AgentNotification,
    /// `POST service/{id}/retrieve-agent-notifications`: the agent desktop polls.
    RetrieveAgentNotifications,
}

impl Verb {
    /// Every verb.
    pub const ALL: [Verb; 11] = [
        Verb::Start,
        Verb::Get,
        Verb::Cancel,
        Verb::Reschedule,
        Verb::IxnChat,
        Verb::Connect,
        Verb::CheckQueuePosition,
        Verb::InternalNotification,
        Verb::RetrieveNotifications,
        Verb::AgentNotification,
        Verb::RetrieveAgentNotifications,
    ];

    /// The verbs named by the last segment of `POST service/{id}/{verb}`.
    pub const POSTED: [Verb; 6] = [
        Verb::Connect,
        Verb::CheckQueuePosition,
        Verb::InternalNotification,
        Verb::RetrieveNotifications,
        Verb::AgentNotification,
        Verb::RetrieveAgentNotifications,
    ];

    /// The name in URLs and messages (`check-queue-position`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Get => "get",
            Verb::Cancel => "cancel",
            Verb::Reschedule => "reschedule",
            Verb::IxnChat => "ixn-chat",
            Verb::Connect => "connect",
            Verb::CheckQueuePosition => "check-queue-position",
            Verb::InternalNotification => "internal-notification",
            Verb::RetrieveNotifications => "retrieve-notifications",
            Verb::AgentNotification => "agent-notification",
            Verb::RetrieveAgentNotifications => "retrieve-agent-notifications",
        }
    }

    /// The flow's event (`gms.check_queue_position`).
    pub fn event_name(self) -> String {
        format!("gms.{}", self.as_str().replace('-', "_"))
    }

    /// The dialog step that the agent-available push names in its `_action`: a GMS client
    /// continues the dialog by POSTing it to `service/{id}/`, and it means what `connect`
    /// means (the customer confirms). Access codes (`_provide_code`) are not offered, so only
    /// the `-false` form is a step of this server.
    pub const CONFIRMATION_DIALOG: &'static str = "get-dialog-user-confirmation-provide_code-false";

    /// The verb of `POST service/{id}/{segment}`, if the segment names one.
    pub fn from_path(segment: &str) -> Option<Verb> {
        if segment == Verb::CONFIRMATION_DIALOG {
            return Some(Verb::Connect);
        }
        // The old name of internal-notification, which older agent desktops still post.
        if segment == "poke" {
            return Some(Verb::InternalNotification);
        }
        Verb::POSTED.into_iter().find(|v| v.as_str() == segment)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_verbs_round_trip_and_name_their_events() {
        for verb in Verb::POSTED {
            assert_eq!(Verb::from_path(verb.as_str()), Some(verb));
        }
        assert_eq!(
            Verb::from_path("start"),
            None,
            "start is not posted to an id"
        );
        assert_eq!(Verb::from_path("connect "), None);
        assert_eq!(
            Verb::from_path("get-dialog-user-confirmation-provide_code-false"),
            Some(Verb::Connect),
            "the pushed dialog step confirms like connect"
        );
        assert_eq!(
            Verb::from_path("get-dialog-user-confirmation-provide_code-true"),
            None,
            "no access codes are offered"
        );
        assert_eq!(Verb::from_path("poke"), Some(Verb::InternalNotification));
        assert_eq!(
            Verb::CheckQueuePosition.event_name(),
            "gms.check_queue_position"
        );
        assert_eq!(Verb::IxnChat.event_name(), "gms.ixn_chat");
        let names: std::collections::HashSet<_> = Verb::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(names.len(), Verb::ALL.len());
    }
}
