//! Who may call what: the credentials of the config file, checked on every request.
//!
//! A credential is a name, a [`Role`] and a secret token. The server keeps only each token's
//! SHA-256 (written in the config file, or computed from an environment variable at start),
//! so a leaked config file gives no one access; tokens are random 256-bit values, for which a
//! plain hash is the right kind of storage (a slow password hash protects guessable secrets,
//! and these are not guessable). A request presents its token as `Authorization: Bearer
//! <token>`, or as HTTP Basic with the credential's name as the user and the token as the
//! password; the digest is compared with every credential's in constant time.
//!
//! The server decides for its own routes ([`crate::route`]); a mounted application gets the
//! [`Caller`] with each request and decides for its routes the same way.
//!
//! With no credential configured, the server creates an administrator token at first start
//! and keeps it in a file only its user can read ([`AdminToken`]). Authentication can be
//! switched off for a server on loopback only.

use base64::Engine as _;
use hyper::header::{HeaderMap, AUTHORIZATION};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: the sessions API, documents, configuration, and every other role's routes.
    Administrator,
    /// Watches and steers the applications: their admin queries, acting on any callback,
    /// metrics.
    Operator,
    /// One agent's desktop: that agent's own routes only (the credential names the agent).
    Agent,
}

impl Role {
    /// Its name in the config file and in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Operator => "operator",
            Role::Agent => "agent",
        }
    }
}

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials: the public routes only (a device, a customer, a health check).
    Anonymous,
    /// Authentication is off (a server on loopback, by the administrator's choice): every
    /// route is open.
    Unchecked,
    /// A configured credential.
    Known {
        /// The credential's name (for logs).
        name: String,
        /// What it may do.
        role: Role,
        /// The agent it speaks for, for [`Role::Agent`].
        agent: Option<String>,
    },
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No credentials, or credentials that match none: 401.
    #[error("{0}")]
    Unauthenticated(String),
    /// A known caller without the role the route needs: 403.
    #[error("{0}")]
    Forbidden(String),
}

impl Caller {
    /// Whether it has `role`; an administrator has every role, and with authentication off
    /// everyone has.
    pub fn has(&self, role: Role) -> bool {
        match self {
            Caller::Unchecked => true,
            Caller::Anonymous => false,
            Caller::Known { role: r, .. } => *r == role || *r == Role::Administrator,
        }
    }

    /// Passes when it has one of `roles`; else the refusal to answer with.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), Denied> {
        if roles.iter().any(|&r| self.has(r)) {
            return Ok(());
        }
        let needed = roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" or ");
        Err(match self {
            Caller::Known { name, role, .. } => Denied::Forbidden(format!(
                "{what} needs the {needed} role; credential `{name}` is {}",
                role.as_str()
            )),
            _ => Denied::Unauthenticated(format!(
                "{what} needs credentials with the {needed} role (Authorization: Bearer <token>)"
            )),
        })
    }

    /// Passes when it may act as agent `agent`: that agent's own credential, or an
    /// administrator.
    pub fn require_agent(&self, agent: &str) -> Result<(), Denied> {
        match self {
            Caller::Unchecked => Ok(()),
            Caller::Known {
                role: Role::Administrator,
                ..
            } => Ok(()),
            Caller::Known {
                role: Role::Agent,
                agent: Some(own),
                ..
            } if own == agent => Ok(()),
            Caller::Known { name, .. } => Err(Denied::Forbidden(format!(
                "credential `{name}` may not act as agent {agent}"
            ))),
            Caller::Anonymous => Err(Denied::Unauthenticated(format!(
                "the routes of agent {agent} need that agent's credentials (Authorization: Bearer <token>)"
            ))),
        }
    }
}

/// One credential as the server keeps it.
#[derive(Clone)]
pub struct Credential {
    name: String,
    role: Role,
    agent: Option<String>,
    digest: [u8; 32],
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// A credential whose token is `token`.
    pub fn new(name: &str, role: Role, agent: Option<&str>, token: &str) -> Credential {
        Credential {
            name: name.to_string(),
            role,
            agent: agent.map(str::to_string),
            digest: digest(token),
        }
    }

    /// A credential known by its token's SHA-256, in hexadecimal.
    pub fn from_digest(
        name: &str,
        role: Role,
        agent: Option<&str>,
        sha256_hex: &str,
    ) -> Result<Credential, String> {
        let hex = sha256_hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("token_sha256 must be 64 hexadecimal digits".into());
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(Credential {
            name: name.to_string(),
            role,
            agent: agent.map(str::to_string),
            digest,
        })
    }
}

/// The SHA-256 of a token.
fn digest(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The SHA-256 of a token in hexadecimal, as `token_sha256` takes it.
pub fn token_sha256_hex(token: &str) -> String {
    digest(token).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token: 32 bytes from the operating system, URL-safe base64, with a prefix
/// that makes it recognisable in a leaked log.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!(
        "scxml_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Checks the credentials of requests.
#[derive(Debug, Clone)]
pub struct Authenticator {
    enabled: bool,
    credentials: Vec<Credential>,
}

impl Authenticator {
    /// Checks requests against `credentials`.
    pub fn new(credentials: Vec<Credential>) -> Authenticator {
        Authenticator {
            enabled: true,
            credentials,
        }
    }

    /// No checks: every caller is [`Caller::Unchecked`]. The server refuses to listen beyond
    /// loopback this way.
    pub fn disabled() -> Authenticator {
        Authenticator {
            enabled: false,
            credentials: Vec::new(),
        }
    }

    /// Whether requests are checked.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Who sent a request with these headers: anonymous without credentials, the credential
    /// that matches, or refused when what it presents matches none.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Denied> {
        if !self.enabled {
            return Ok(Caller::Unchecked);
        }
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let bad = |why: &str| Denied::Unauthenticated(format!("bad credentials: {why}"));
        let value = value.to_str().map_err(|_| bad("not text"))?.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let (user, token) = if scheme.eq_ignore_ascii_case("bearer") {
            (None, rest.trim().to_string())
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| bad("Basic credentials that are not base64"))?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad("not UTF-8"))?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(|| bad("Basic credentials without `user:password`"))?;
            (Some(user.to_string()), password.to_string())
        } else {
            return Err(bad("the scheme must be Bearer or Basic"));
        };
        let presented = digest(&token);
        // Every credential is compared, so the time taken does not depend on which matched.
        let mut matched: Option<&Credential> = None;
        for credential in &self.credentials {
            if bool::from(credential.digest.ct_eq(&presented)) {
                matched = Some(credential);
            }
        }
        match matched {
            Some(c) if user.as_ref().is_none_or(|u| *u == c.name) => Ok(Caller::Known {
                name: c.name.clone(),
                role: c.role,
                agent: c.agent.clone(),
            }),
            _ => Err(bad("they match no credential")),
        }
    }
}

/// The administrator token the server made for itself, when no credential is configured.
#[derive(Debug, Clone)]
pub struct AdminToken {
    /// Where it is kept (mode 0600).
    pub path: PathBuf,
    /// Whether it was created by this start (else it was read from `path`).
    pub created: bool,
    /// Its credential.
    pub credential: Credential,
}

impl AdminToken {
    /// Reads the token kept at `path`, or creates one there (with its directory), readable
    /// by this user only.
    pub fn load_or_create(path: &Path) -> std::io::Result<AdminToken> {
        let credential = |token: &str| Credential::new("admin", Role::Administrator, None, token);
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => {
                return Ok(AdminToken {
                    path: path.to_path_buf(),
                    created: false,
                    credential: credential(text.trim()),
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let token = new_token()?;
        write_private(path, &format!("{token}\n"))?;
        Ok(AdminToken {
            path: path.to_path_buf(),
            created: true,
            credential: credential(&token),
        })
    }
}

/// Writes `text` to a new file that only this user may read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    fn authenticator() -> Authenticator {
        Authenticator::new(vec![
            Credential::new("ops", Role::Operator, None, "ops-token"),
            Credential::new("a1", Role::Agent, Some("a1"), "agent-token"),
            Credential::from_digest(
                "root",
                Role::Administrator,
                None,
                &token_sha256_hex("root-token"),
            )
            .unwrap(),
        ])
    }

    #[test]
    fn bearer_and_basic_tokens_identify_their_credential() {
        let auth = authenticator();
        let ops = auth.authenticate(&headers("Bearer ops-token")).unwrap();
        assert!(ops.has(Role::Operator) && !ops.has(Role::Administrator));
        let basic = base64::engine::general_purpose::STANDARD.encode("root:root-token");
        let root = auth
            .authenticate(&headers(&format!("Basic {basic}")))
            .unwrap();
        assert!(root.has(Role::Administrator) && root.has(Role::Operator));
        assert_eq!(
            auth.authenticate(&HeaderMap::new()).unwrap(),
            Caller::Anonymous
        );
    }

    #[test]
    fn wrong_tokens_and_wrong_basic_users_are_refused() {
        let auth = authenticator();
        for value in [
            "Bearer nope".to_string(),
            "Token ops-token".to_string(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("root:ops-token")
            ),
            "Basic !!!".to_string(),
        ] {
            assert!(
                matches!(
                    auth.authenticate(&headers(&value)),
                    Err(Denied::Unauthenticated(_))
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn an_agent_acts_only_as_itself_and_needs_no_other_role() {
        let auth = authenticator();
        let agent = auth.authenticate(&headers("Bearer agent-token")).unwrap();
        assert!(agent.require_agent("a1").is_ok());
        assert!(matches!(
            agent.require_agent("a2"),
            Err(Denied::Forbidden(_))
        ));
        assert!(matches!(
            agent.require(&[Role::Operator], "metrics"),
            Err(Denied::Forbidden(_))
        ));
        assert!(matches!(
            Caller::Anonymous.require_agent("a1"),
            Err(Denied::Unauthenticated(_))
        ));
        assert!(Caller::Unchecked
            .require(&[Role::Administrator], "x")
            .is_ok());
    }

    #[test]
    fn digests_are_checked_when_configured() {
        assert!(Credential::from_digest("x", Role::Operator, None, "abc").is_err());
        assert_eq!(token_sha256_hex("abc").len(), 64);
    }

    #[test]
    fn the_generated_admin_token_is_private_and_kept() {
        let dir = std::env::temp_dir().join(format!("scxml-admin-token-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let path = dir.join("nested").join("admin-token");
        let first = AdminToken::load_or_create(&path).unwrap();
        assert!(first.created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = AdminToken::load_or_create(&path).unwrap();
        assert!(!again.created);
        let token = std::fs::read_to_string(&path).unwrap();
        assert!(token.starts_with("scxml_"));
        let auth = Authenticator::new(vec![again.credential]);
        let caller = auth
            .authenticate(&headers(&format!("Bearer {}", token.trim())))
            .unwrap();
        assert!(caller.has(Role::Administrator));
        std::fs::remove_dir_all(&dir).ok();
    }
}
