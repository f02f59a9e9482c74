//! Who may call each route of the callback API: decided here, for every path that reaches a
//! callback, and nowhere else (the flows decide the business answers, states, reasons and
//! 409s, never identity).
//!
//! - **Devices** carry no credential (GMS defines none): a device names itself in the
//!   `gms_user` header, and a callback answers only the device that created it, on the
//!   customer's verbs (the record, cancel, reschedule, confirm, position, its notifications,
//!   the chat).
//! - **Agents** (a credential naming the agent) reach the agent desktop's verbs
//!   (`internal-notification`, `retrieve-agent-notifications`) and the record of the callback
//!   they hold (its record's `_agent`), and their own routes under `agents/{agent}/`.
//! - **Operators** (and administrators, and everyone when authentication is off) reach
//!   every callback, the queries by properties and by queue, and the bulk operations.
//!
//! A caller with no identity the route accepts gets 401; one known but not entitled, 403.

use super::app::GmsRequest;
use super::verb::Verb;
use scxml_server::{Caller, Denied, Role};

/// Who a request acts as, once admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Actor {
    /// The device that created the callback (or creates one), by its `gms_user`.
    Device(String),
    /// The agent holding the callback.
    Agent(String),
    /// An operator: any callback.
    Operator,
}

/// Which side of a callback a verb is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The customer's device.
    Customer,
    /// The desktop of the agent holding the callback.
    AgentDesk,
    /// Both: the record, which the holding agent reads to know whom it serves.
    Either,
}

fn side(verb: Verb) -> Side {
    match verb {
        Verb::InternalNotification | Verb::RetrieveAgentNotifications => Side::AgentDesk,
        Verb::Get => Side::Either,
        Verb::Start
        | Verb::Cancel
        | Verb::Reschedule
        | Verb::IxnChat
        | Verb::Connect
        | Verb::CheckQueuePosition
        | Verb::RetrieveNotifications
        | Verb::AgentNotification => Side::Customer,
    }
}

/// Who a callback belongs to, as far as access goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holders<'a> {
    /// The `gms_user` of the device that created it (empty: an operator created it).
    pub owner: &'a str,
    /// The agent reserved for it or chatting with its customer, if any.
    pub agent: Option<&'a str>,
}

/// May `request` create a callback? Devices must name themselves; operators need not.
pub(crate) fn create(request: &GmsRequest) -> Result<Actor, Denied> {
    if request.caller.has(Role::Operator) {
        return Ok(Actor::Operator);
    }
    if let Caller::Known { name, .. } = &request.caller {
        return Err(Denied::Forbidden(format!(
            "credential `{name}` does not create callbacks; devices and operators do"
        )));
    }
    device_of(request)
        .map(|device| Actor::Device(device.into()))
        .ok_or_else(no_device)
}

/// May `request` use `verb` on a callback held as `holders` say?
pub(crate) fn callback(
    request: &GmsRequest,
    verb: Verb,
    id: &str,
    holders: Holders<'_>,
) -> Result<Actor, Denied> {
    if request.caller.has(Role::Operator) {
        return Ok(Actor::Operator);
    }
    match (side(verb), &request.caller) {
        (
            Side::AgentDesk | Side::Either,
            Caller::Known {
                role: Role::Agent,
                agent: Some(agent),
                ..
            },
        ) => {
            if holders.agent == Some(agent.as_str()) {
                Ok(Actor::Agent(agent.clone()))
            } else {
                Err(Denied::Forbidden(format!(
                    "agent {agent} does not hold callback {id}"
                )))
            }
        }
        (Side::AgentDesk, Caller::Known { name, .. }) => Err(Denied::Forbidden(format!(
            "{verb} is for the agent holding callback {id}; credential `{name}` is not an agent"
        ))),
        (Side::AgentDesk, _) => Err(Denied::Unauthenticated(format!(
            "{verb} is for the agent holding callback {id} (Authorization: Bearer <token>)"
        ))),
        (Side::Customer | Side::Either, Caller::Known { name, .. }) => {
            Err(Denied::Forbidden(format!(
                "{verb} of callback {id} is its device's; credential `{name}` is not an operator"
            )))
        }
        (Side::Customer | Side::Either, _) => match device_of(request) {
            Some(device) if !holders.owner.is_empty() && device == holders.owner => {
                Ok(Actor::Device(device.into()))
            }
            Some(_) => Err(Denied::Forbidden(format!(
                "callback {id} belongs to another device"
            ))),
            None => Err(no_device()),
        },
    }
}

/// May `request` use the routes of agent `agent` (`agents/{agent}/...`): that agent's own
/// credential, or an administrator's?
pub(crate) fn agent_routes(request: &GmsRequest, agent: &str) -> Result<(), Denied> {
    request.caller.require_agent(agent)
}

/// May `request` run an operator's query or bulk operation (`what`)?
pub(crate) fn operator(request: &GmsRequest, what: &str) -> Result<(), Denied> {
    request.caller.require(&[Role::Operator], what)
}

fn device_of(request: &GmsRequest) -> Option<&str> {
    request.gms_user.as_deref().filter(|u| !u.is_empty())
}

fn no_device() -> Denied {
    Denied::Unauthenticated(
        "a device names itself in the gms_user header; operators use their credentials \
         (Authorization: Bearer <token>)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    fn request(caller: Caller, gms_user: Option<&str>) -> GmsRequest {
        GmsRequest {
            method: Method::POST,
            path: "/genesys/1/service/x".into(),
            query: None,
            gms_user: gms_user.map(str::to_string),
            content_type: None,
            body: Default::default(),
            caller,
            peer: std::net::Ipv4Addr::LOCALHOST.into(),
        }
    }

    fn agent(name: &str) -> Caller {
        Caller::Known {
            name: name.into(),
            role: Role::Agent,
            agent: Some(name.into()),
        }
    }

    fn operator_caller() -> Caller {
        Caller::Known {
            name: "ops".into(),
            role: Role::Operator,
            agent: None,
        }
    }

    const HELD: Holders<'static> = Holders {
        owner: "dev-1",
        agent: Some("agent1"),
    };

    fn status(result: Result<Actor, Denied>) -> u16 {
        match result {
            Ok(_) => 200,
            Err(Denied::Unauthenticated(_)) => 401,
            Err(Denied::Forbidden(_)) => 403,
        }
    }

    #[test]
    fn each_verb_answers_its_side_and_operators_everything() {
        let owner = request(Caller::Anonymous, Some("dev-1"));
        let other = request(Caller::Anonymous, Some("dev-2"));
        let nobody = request(Caller::Anonymous, None);
        let holder = request(agent("agent1"), None);
        let stranger = request(agent("agent2"), None);
        let ops = request(operator_caller(), None);
        for verb in Verb::ALL {
            let customer = side(verb) != Side::AgentDesk;
            let agent = side(verb) != Side::Customer;
            let expect = |who: &GmsRequest| status(callback(who, verb, "cb", HELD));
            assert_eq!(expect(&owner), if customer { 200 } else { 401 }, "{verb}");
            assert_eq!(expect(&other), if customer { 403 } else { 401 }, "{verb}");
            assert_eq!(expect(&nobody), 401, "{verb}");
            assert_eq!(expect(&holder), if agent { 200 } else { 403 }, "{verb}");
            assert_eq!(expect(&stranger), 403, "{verb}");
            assert_eq!(
                callback(&ops, verb, "cb", HELD),
                Ok(Actor::Operator),
                "{verb}"
            );
        }
        // A callback an operator created answers no device.
        let unowned = Holders {
            owner: "",
            agent: None,
        };
        assert_eq!(status(callback(&owner, Verb::Get, "cb", unowned)), 403);
        assert_eq!(
            status(callback(&holder, Verb::InternalNotification, "cb", unowned)),
            403
        );
    }

    #[test]
    fn devices_and_operators_create() {
        let device = request(Caller::Anonymous, Some("dev-1"));
        assert_eq!(create(&device), Ok(Actor::Device("dev-1".into())));
        assert_eq!(status(create(&request(Caller::Anonymous, Some("")))), 401);
        assert_eq!(
            status(create(&request(agent("agent1"), Some("dev-1")))),
            403
        );
        assert_eq!(
            create(&request(operator_caller(), None)),
            Ok(Actor::Operator)
        );
        assert_eq!(
            create(&request(Caller::Unchecked, None)),
            Ok(Actor::Operator)
        );
    }
}
