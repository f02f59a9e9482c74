//! The callback application's pages, under `/genesys/pages/`: the operator console (services,
//! callbacks with filters, paging, cancel and CSV export, queues with their waiting over
//! time, agents, the node's health). Built into the binary and holding no data: they read the
//! operator's API with the token the user gives once per tab, through the server's
//! `/pages/api.js` (same origin).

use super::response::GmsResponse;

/// The files, by name: content type and text.
const FILES: &[(&str, &str, &str)] = &[
    (
        "console.html",
        "text/html; charset=utf-8",
        include_str!("../pages/console.html"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../pages/console.js"),
    ),
];

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
