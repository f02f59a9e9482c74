//! `scxml serve [--config FILE] [--listen ADDR] [--data DIR] [--test-protocol ADDR]
//! [--allow-url PREFIX]... [--gms FILE | --no-gms]`: runs the interpreter server until Ctrl-C
//! or SIGTERM, then stops accepting, lets open requests finish and stops the engine. The GMS
//! callback application runs under `/genesys/` with its built-in configuration unless told
//! otherwise.

use crate::server::{self, FileConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
        Some(path) => match FileConfig::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        None => FileConfig::default(),
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
    let options = match config.into_options() {
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
    runtime.block_on(async move {
        let running = match server::start_with_gms(options, gms).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cannot listen: {e}");
                return ExitCode::FAILURE;
            }
        };
        // One line on stdout that scripts (and the restart test) can wait for.
        println!("listening on http://{}", running.api_addr);
        if let Some(addr) = running.test_protocol_addr {
            println!("test protocol on http://{addr}");
        }
        tracing::info!(addr = %running.api_addr, "serving");
        wait_for_shutdown_signal().await;
        tracing::info!("shutting down");
        running.stop().await;
        ExitCode::SUCCESS
    })
}

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
