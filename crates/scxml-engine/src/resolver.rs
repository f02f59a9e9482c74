//! [`UrlResolver`]: the resolver of the hosts that read documents over the network (the
//! server and the CLI): `file:` and `http(s):` URLs, within an allow-list.
//!
//! It reads with blocking I/O, so a host calls it off its session threads: the server loads
//! documents in a blocking task, and the engine starts an `<invoke src>` child only once its
//! document has been fetched that way (never on a shard thread).

use scxml::parse::{read_file, AllowList, FetchError, Resolver, MAX_RESOURCE_BYTES};
use std::time::Duration;
use url::Url;

/// How long an HTTP fetch may take in all.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads `file:`, `http:` and `https:` URLs under an [`AllowList`].
#[derive(Clone)]
pub struct UrlResolver {
    allow: AllowList,
    agent: ureq::Agent,
}

impl std::fmt::Debug for UrlResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlResolver")
            .field("allow", &self.allow)
            .finish()
    }
}

impl UrlResolver {
    /// A resolver that reads only under `allow`.
    pub fn new(allow: AllowList) -> UrlResolver {
        UrlResolver {
            allow,
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(HTTP_TIMEOUT))
                .http_status_as_error(true)
                .build()
                .into(),
        }
    }

    /// The allow-list it enforces.
    pub fn allow_list(&self) -> &AllowList {
        &self.allow
    }
}

impl Resolver for UrlResolver {
    fn permits(&self, url: &Url) -> Result<(), FetchError> {
        match url.scheme() {
            "file" | "http" | "https" => self.allow.check(url),
            other => Err(FetchError::Unsupported {
                url: url.to_string(),
                scheme: other.to_string(),
            }),
        }
    }

    fn fetch(&self, url: &Url) -> Result<String, FetchError> {
        self.permits(url)?;
        if url.scheme() == "file" {
            return read_file(url, &self.allow);
        }
        let mut response = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| FetchError::failed(url, e))?;
        response
            .body_mut()
            .with_config()
            .limit(MAX_RESOURCE_BYTES)
            .read_to_string()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge {
                    url: url.to_string(),
                    limit: MAX_RESOURCE_BYTES,
                },
                other => FetchError::failed(url, other),
            })
    }
}
