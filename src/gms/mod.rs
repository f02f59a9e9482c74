//! The callback application's adapters: what URS, Stat Server, the push providers and the
//! chat server do for a Genesys Mobile Services style callback service. The flows themselves
//! are SCXML documents under `scxml/`; these modules only supply the parts they talk to.

pub mod chat;
pub mod push;
pub mod routing;
