//! Where documents and their `src` attributes come from: paths, `file:` and `http(s)://` URLs.
//!
//! Every relative reference resolves against the URL of the document that holds it, never the
//! process's working directory, so a document behaves the same wherever it is run from.

use std::time::Duration;
use url::Url;

/// The largest document or `src` resource read, in bytes.
pub const MAX_RESOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// How long an HTTP fetch may take in all.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Turns what a user typed (a path, relative or absolute, or a URL) into a URL.
pub fn location_to_url(location: &str) -> Result<Url, String> {
    if let Ok(url) = Url::parse(location) {
        // A one-letter "scheme" is a Windows drive letter, not a URL.
        if url.scheme().len() > 1 {
            return match url.scheme() {
                "file" | "http" | "https" => Ok(url),
                other => Err(format!("unsupported URL scheme `{other}:`")),
            };
        }
    }
    let path = std::path::Path::new(location);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot resolve a relative path: {e}"))?
            .join(path)
    };
    Url::from_file_path(&absolute).map_err(|()| format!("`{location}` is not a usable path"))
}

/// Resolves a `src` reference against the URL of the document that holds it. Without a base,
/// only absolute URLs are accepted.
pub fn resolve(reference: &str, base: Option<&Url>) -> Result<Url, String> {
    match base {
        Some(base) => base
            .join(reference)
            .map_err(|e| format!("`{reference}` is not a valid URL reference: {e}")),
        None => Url::parse(reference).map_err(|_| {
            format!("`{reference}` is relative, and the document has no URL to resolve it against")
        }),
    }
}

/// Reads the text a URL names.
pub fn fetch_text(url: &Url) -> Result<String, String> {
    match url.scheme() {
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| format!("{url} is not a local file path"))?;
            let meta = std::fs::metadata(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if meta.len() > MAX_RESOURCE_BYTES {
                return Err(format!(
                    "{} is larger than {MAX_RESOURCE_BYTES} bytes",
                    path.display()
                ));
            }
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        "http" | "https" => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(HTTP_TIMEOUT))
                .build()
                .into();
            let mut response = agent
                .get(url.as_str())
                .call()
                .map_err(|e| format!("cannot fetch {url}: {e}"))?;
            response
                .body_mut()
                .with_config()
                .limit(MAX_RESOURCE_BYTES)
                .read_to_string()
                .map_err(|e| format!("cannot read {url}: {e}"))
        }
        other => Err(format!("unsupported URL scheme `{other}:` in {url}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_file_urls_and_references_resolve_against_the_document() {
        let url = location_to_url("/tmp/flows/main.scxml").unwrap();
        assert_eq!(url.as_str(), "file:///tmp/flows/main.scxml");
        let sub = resolve("sub/child.scxml", Some(&url)).unwrap();
        assert_eq!(sub.as_str(), "file:///tmp/flows/sub/child.scxml");
        let file_ref = resolve("file:data.txt", Some(&url)).unwrap();
        assert_eq!(file_ref.as_str(), "file:///tmp/flows/data.txt");
        assert!(resolve("child.scxml", None).is_err());
        assert!(location_to_url("ftp://example.org/x").is_err());
    }

    #[test]
    fn missing_files_are_errors_not_panics() {
        let url = Url::parse("file:///definitely/not/here.scxml").unwrap();
        assert!(fetch_text(&url).unwrap_err().contains("cannot read"));
    }
}
