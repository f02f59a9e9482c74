//! The callback application's pages, under `/genesys/pages/`: the customer tester (a device
//! asking for a callback, confirming and chatting, every request shown raw and as curl), the
//! agent desktop (state, offers with accept and reject, the callback's data, the chat, the end
//! with a disposition and a wrap-up, notifications both ways) and the operator console
//! (services, callbacks with filters, paging, cancel and CSV export, queues with their waiting
//! over time, agents, the node's health). Built into the binary and holding no data: they read the
//! operator's API with the token the user gives once per tab, through the server's
//! `/pages/api.js` (same origin).

use super::response::GmsResponse;

/// The files, by name: content type and text.
const FILES: &[(&str, &str, &str)] = &[
    ("console.html", HTML, include_str!("../pages/console.html")),
    ("console.js", SCRIPT, include_str!("../pages/console.js")),
    ("tester.html", HTML, include_str!("../pages/tester.html")),
    ("tester.js", SCRIPT, include_str!("../pages/tester.js")),
    ("agent.html", HTML, include_str!("../pages/agent.html")),
    ("agent.js", SCRIPT, include_str!("../pages/agent.js")),
    ("bayeux.js", SCRIPT, include_str!("../pages/bayeux.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const SCRIPT: &str = "text/javascript; charset=utf-8";

/// Only same-origin files run in the pages, and no other site may frame them.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                      img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                      base-uri 'none'; form-action 'self'";

/// `/genesys/pages/{name}`, if there is such a file.
pub(crate) fn file(name: &str) -> Option<GmsResponse> {
    let (_, content_type, text) = FILES.iter().find(|(n, _, _)| *n == name)?;
    Some(GmsResponse {
        content_security_policy: Some(POLICY),
        ..GmsResponse::text(200, content_type, text.as_bytes().to_vec())
    })
}
