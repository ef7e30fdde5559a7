//! `login` and `logout`: credentials are checked by the registry (through berthd), then kept
//! in `~/.berth/config.json` on this machine only.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::Result;
use berth_proto::node::v1::{LoginRegistryRequest, RegistryAuth};
use clap::Args;

use crate::client::Clients;
use crate::credentials::{self, Locations};
use crate::error::Failure;

/// `login [OPTIONS] [SERVER]`.
#[derive(Args)]
pub struct LoginArgs {
    /// Username.
    #[arg(short, long)]
    username: Option<String>,
    /// Password or Personal Access Token (PAT).
    #[arg(short, long)]
    password: Option<String>,
    /// Take the Password or Personal Access Token (PAT) from stdin.
    #[arg(long)]
    password_stdin: bool,
    /// The registry (default: Docker Hub).
    server: Option<String>,
}

/// `logout [SERVER]`.
#[derive(Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub).
    server: Option<String>,
}

/// Checks and stores credentials for a registry.
pub async fn login(clients: &Clients, args: LoginArgs) -> Result<i32> {
    let domain = credentials::normalise(args.server.as_deref().unwrap_or_default());
    let locations = Locations::from_env()?;
    let no_flags = args.username.is_none() && args.password.is_none() && !args.password_stdin;
    if no_flags && login_with_stored(clients, &locations, &domain).await? {
        return Ok(0);
    }
    let mut password = args.password.clone().unwrap_or_default();
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        if args.password_stdin {
            return Err(
                Failure::new("--password and --password-stdin are mutually exclusive").into(),
            );
        }
    }
    if args.password_stdin {
        if args.username.as_deref().unwrap_or_default().is_empty() {
            return Err(Failure::new("Must provide --username with --password-stdin").into());
        }
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| Failure::new(format!("reading the password from stdin: {e}")))?;
        password = input.trim_end_matches(['\n', '\r']).to_string();
    }
    let mut username = args.username.clone().unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        if !std::io::stdin().is_terminal() {
            return Err(
                Failure::new("Cannot perform an interactive login from a non TTY device").into(),
            );
        }
        if username.is_empty() {
            username = prompt_username(locations.stored_username(&domain))?;
        }
        if password.is_empty() {
            password = rpassword::prompt_password("Password: ")
                .map_err(|e| Failure::new(format!("reading the password: {e}")))?;
        }
    }
    if username.is_empty() {
        return Err(Failure::new("Username cannot be empty").into());
    }
    if password.is_empty() {
        return Err(Failure::new("Password Required").into());
    }
    let request = LoginRegistryRequest {
        registry: domain.clone(),
        auth: Some(RegistryAuth {
            username: username.clone(),
            password: password.clone(),
            ..RegistryAuth::default()
        }),
    };
    let response = clients.images().login_registry(request).await?.into_inner();
    locations.store(&domain, &username, &password, &response.identity_token)?;
    println!("{}", response.status);
    Ok(0)
}

/// `login SERVER` with no flags first tries the credentials already stored, as Docker does;
/// false when there are none or the registry refuses them (the caller then asks).
async fn login_with_stored(clients: &Clients, locations: &Locations, domain: &str) -> Result<bool> {
    let Some(auth) = locations.lookup(domain)? else {
        return Ok(false);
    };
    if auth.username.is_empty() || auth.password.is_empty() {
        return Ok(false);
    }
    println!("Authenticating with existing credentials...");
    let request = LoginRegistryRequest {
        registry: domain.to_string(),
        auth: Some(auth),
    };
    match clients.images().login_registry(request).await {
        Ok(response) => {
            println!("{}", response.into_inner().status);
            Ok(true)
        }
        Err(status) if status.code() == tonic::Code::Unauthenticated => Ok(false),
        Err(status) => Err(status.into()),
    }
}

/// Forgets the credentials for a registry.
pub async fn logout(args: LogoutArgs) -> Result<i32> {
    let domain = credentials::normalise(args.server.as_deref().unwrap_or_default());
    let server = credentials::server_key(&domain);
    if Locations::from_env()?.remove(&domain)? {
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}

/// Asks for the user name, offering the stored one as the default.
fn prompt_username(stored: Option<String>) -> Result<String> {
    match &stored {
        Some(user) => print!("Username ({user}): "),
        None => print!("Username: "),
    }
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let typed = line.trim().to_string();
    Ok(if typed.is_empty() {
        stored.unwrap_or_default()
    } else {
        typed
    })
}
