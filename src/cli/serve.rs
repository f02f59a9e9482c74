//! `scxml serve [--config FILE] [--listen ADDR] [--data DIR] [--test-protocol ADDR]
//! [--allow-url PREFIX]... [--gms FILE | --no-gms]`: runs the interpreter server until Ctrl-C
//! or SIGTERM, then stops accepting, lets open requests finish and stops the engine. The GMS
//! callback application runs under `/genesys/` with its built-in configuration unless told
//! otherwise.

use scxml_callback::GmsSection;
use scxml_server::{
    AuthSection, ConfigError, DocumentsSection, EngineSection, FileConfig, HibernationSection,
    Mount, ServerSection,
};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The configuration file of `scxml serve`: the server's sections and the callback
/// application's `[gms]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub engine: EngineSection,
    #[serde(default)]
    pub hibernation: HibernationSection,
    #[serde(default)]
    pub documents: DocumentsSection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub gms: GmsSection,
}

impl ServeConfig {
    /// Reads a config file; a missing path is an error, bad TOML says where.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
        Ok(scxml_server::load_toml(path)?)
    }

    /// Parses the text of a config file.
    #[cfg(test)]
    pub fn parse(text: &str) -> Result<ServeConfig, ConfigError> {
        Ok(scxml_server::parse_toml(text)?)
    }

    /// The server's part.
    fn server_config(self) -> FileConfig {
        FileConfig {
            server: self.server,
            engine: self.engine,
            hibernation: self.hibernation,
            documents: self.documents,
            auth: self.auth,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see the README); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the API listens.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Keep sessions durably in this directory (an embedded redb file).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Also serve the test-runner protocol on this address.
    #[arg(long, value_name = "ADDR")]
    test_protocol: Option<SocketAddr>,
    /// A URL prefix documents may be loaded from (repeatable).
    #[arg(long = "allow-url", value_name = "PREFIX")]
    allow_url: Vec<String>,
    /// Worker threads running sessions.
    #[arg(long)]
    shards: Option<usize>,
    /// The GMS callback application's configuration (default: the built-in one).
    #[arg(long, value_name = "FILE", conflicts_with = "no_gms")]
    gms: Option<PathBuf>,
    /// Do not run the GMS callback application.
    #[arg(long)]
    no_gms: bool,
}

pub fn serve(args: ServeArgs) -> ExitCode {
    let mut config = match &args.config {
        Some(path) => match ServeConfig::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        None => ServeConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(data) = args.data {
        config.engine.data_dir = Some(data);
    }
    if let Some(addr) = args.test_protocol {
        config.server.test_protocol = Some(addr);
    }
    if let Some(shards) = args.shards {
        config.engine.shards = Some(shards);
    }
    config.documents.allow.extend(args.allow_url);
    if let Some(path) = args.gms {
        config.gms.enabled = true;
        config.gms.config = Some(path);
    }
    if args.no_gms {
        config.gms.enabled = false;
    }
    let gms = match config.gms.load() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("gms: {e}");
            return ExitCode::from(2);
        }
    };
    let mounts: Vec<Arc<dyn Mount>> = gms.into_iter().map(|g| g as Arc<dyn Mount>).collect();
    let options = match config.server_config().into_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let admin_token = options.admin_token.clone();
    let code = runtime.block_on(async move {
        let running = match scxml_server::start_with(options, mounts).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cannot listen: {e}");
                return ExitCode::FAILURE;
            }
        };
        // One line on stdout that scripts (and the restart test) can wait for.
        println!("listening on {}://{}", running.scheme, running.api_addr);
        if let Some(addr) = running.test_protocol_addr {
            println!("test protocol on http://{addr}");
        }
        if let Some(token) = &admin_token {
            println!(
                "administrator token {} {} (Authorization: Bearer <token>)",
                if token.created { "created in" } else { "in" },
                token.path.display()
            );
        }
        tracing::info!(addr = %running.api_addr, "serving");
        wait_for_shutdown_signal().await;
        tracing::info!("shutting down");
        // Bounded whatever a worker is doing: a runaway script never ends, and a request
        // waiting on it is not worth keeping the process for.
        if tokio::time::timeout(SHUTDOWN_GRACE, running.stop())
            .await
            .is_err()
        {
            tracing::warn!("shutdown took longer than {SHUTDOWN_GRACE:?}; exiting anyway");
        }
        ExitCode::SUCCESS
    });
    // Nor does a blocking task (a document being fetched) hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// How long `serve` waits for open requests and workers after SIGTERM or Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

async fn wait_for_shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_the_server_sections_and_the_callback_application() {
        let c = ServeConfig::parse("[engine]\nshards = 3\n[gms]\nenabled = false\n").unwrap();
        assert_eq!(c.engine.shards, Some(3));
        assert!(c.gms.load().unwrap().is_none());
        assert!(ServeConfig::default().gms.load().unwrap().is_some());
        assert!(ServeConfig::parse("[gms]\nenable = true").is_err());
        assert!(ServeConfig::parse("[other]\n").is_err());
    }
}
