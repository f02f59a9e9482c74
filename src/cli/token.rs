//! `scxml token`: a new API token and the line that configures it.
//!
//! The server stores only a token's SHA-256, so the token is shown once, here, and the
//! config file gets its digest.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The credential's name (the user of HTTP Basic).
    #[arg(long, default_value = "ops")]
    name: String,
    /// Its role: administrator, operator or agent.
    #[arg(long, default_value = "operator")]
    role: String,
    /// The agent an agent credential speaks for.
    #[arg(long)]
    agent: Option<String>,
}

pub fn token(args: TokenArgs) -> ExitCode {
    if !matches!(args.role.as_str(), "administrator" | "operator" | "agent") {
        eprintln!(
            "scxml: --role is administrator, operator or agent, not `{}`",
            args.role
        );
        return ExitCode::from(2);
    }
    if (args.role == "agent") != args.agent.is_some() {
        eprintln!("scxml: --agent goes with --role agent, and only with it");
        return ExitCode::from(2);
    }
    let token = match scxml_server::new_token() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("scxml: cannot make a token: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("token (give it to the client; it is not stored anywhere):\n  {token}\n");
    println!("configuration (serve.toml):");
    println!("[[auth.credentials]]");
    println!("name = {:?}", args.name);
    println!("role = {:?}", args.role);
    if let Some(agent) = &args.agent {
        println!("agent = {agent:?}");
    }
    println!(
        "token_sha256 = {:?}",
        scxml_server::token_sha256_hex(&token)
    );
    ExitCode::SUCCESS
}
