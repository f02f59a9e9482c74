//! The pages the server serves itself: the landing page at `/`, and under `/pages/` the
//! sessions list, the live statechart view of a session, and their script and style. They
//! are built into the binary (`include_str!`), so nothing is fetched or installed at run time,
//! and they hold no data: they read the API with the credential the user gives once (kept in
//! the tab's `sessionStorage`), so a page shows only what that credential may see.

use crate::http::{self, Body};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use hyper::{Response, StatusCode};

/// The files, by name: content type and text.
const FILES: &[(&str, &str, &str)] = &[
    ("index.html", HTML, include_str!("../pages/index.html")),
    ("index.js", SCRIPT, include_str!("../pages/index.js")),
    (
        "sessions.html",
        HTML,
        include_str!("../pages/sessions.html"),
    ),
    ("sessions.js", SCRIPT, include_str!("../pages/sessions.js")),
    ("session.html", HTML, include_str!("../pages/session.html")),
    ("session.js", SCRIPT, include_str!("../pages/session.js")),
    ("chart.js", SCRIPT, include_str!("../pages/chart.js")),
    ("api.js", SCRIPT, include_str!("../pages/api.js")),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../pages/style.css"),
    ),
];

const HTML: &str = "text/html; charset=utf-8";
const SCRIPT: &str = "text/javascript; charset=utf-8";

/// Only the server's own files run in its pages, and no other site may frame them.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                      img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                      base-uri 'none'; form-action 'self'";

/// The landing page.
pub(crate) fn landing() -> Response<Body> {
    file("index.html").unwrap_or_else(|| http::empty(StatusCode::NOT_FOUND))
}

/// `/pages/{name}`, if there is such a file.
pub(crate) fn file(name: &str) -> Option<Response<Body>> {
    let (_, content_type, text) = FILES.iter().find(|(n, _, _)| *n == name)?;
    let mut response = http::full(StatusCode::OK, content_type, text.as_bytes());
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_names_only_files_that_are_served() {
        for (name, _, text) in FILES {
            for quote in ["\"/pages/", "'/pages/"] {
                for rest in text.split(quote).skip(1) {
                    let end = rest.find(|c: char| {
                        !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
                    });
                    let named = &rest[..end.unwrap_or(rest.len())];
                    assert!(
                        FILES.iter().any(|(n, _, _)| *n == named),
                        "{name} names /pages/{named}, which is not served"
                    );
                }
            }
        }
        assert!(file("nope.js").is_none());
        let page = file("session.html").unwrap();
        assert_eq!(page.headers()["content-type"], HTML);
        assert!(page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
    }
}
