//! The daemon's settings: command-line flags over an optional TOML file over defaults.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use berth_image::registry::RegistryConfig;
use berth_shim::RuntimeChoice;
use clap::{Parser, ValueEnum};
use serde::Deserialize;

/// Default persistent state directory.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";
/// Default runtime state directory.
pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";
/// Default cgroup parent of the containers.
pub const DEFAULT_CGROUP_PARENT: &str = "/berth";
/// Default API endpoint.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berthd.sock";

/// Why the settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys.
    #[error("parsing {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Box<toml::de::Error>,
    },
    /// A setting has a bad value.
    #[error("{0}")]
    Invalid(String),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// berthd's command line.
#[derive(Debug, Default, Parser)]
#[command(name = "berthd", version, about = "Berth's node daemon")]
pub struct Args {
    /// TOML file with the same keys as the flags (`root`, `exec-root`, `host`, ...); flags win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Persistent state directory [default: /var/lib/berth].
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Runtime state directory: sockets and runtime state [default: /run/berth].
    #[arg(long, value_name = "DIR")]
    pub exec_root: Option<PathBuf>,
    /// API endpoint, `unix:///path` or `tcp://addr:port` (mutual TLS); repeatable
    /// [default: unix:///run/berth/berthd.sock].
    #[arg(short = 'H', long = "host", value_name = "URL")]
    pub hosts: Vec<String>,
    /// OCI runtime: `builtin`, `runc`, `crun` or a path to a runc-compatible binary
    /// [default: builtin].
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// The shim executable [default: berth-shim next to berthd].
    #[arg(long, value_name = "PATH")]
    pub shim: Option<PathBuf>,
    /// The cgroup that holds the containers' cgroups [default: /berth].
    #[arg(long, value_name = "CGROUP")]
    pub cgroup_parent: Option<String>,
    /// Log filter: a level (`info`) or tracing directives (`berthd=debug,info`) [default: info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format [default: text].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// CA certificate that client certificates must chain to (tcp endpoints).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Server certificate (tcp endpoints).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Server private key (tcp endpoints).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// A registry (`host[:port]`) that may be reached over plain HTTP; repeatable.
    /// `localhost` and 127.0.0.0/8 always may.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Layers downloaded at once per pull [default: 3].
    #[arg(long, value_name = "N")]
    pub max_concurrent_downloads: Option<usize>,
    /// Blobs uploaded at once per push [default: 5].
    #[arg(long, value_name = "N")]
    pub max_concurrent_uploads: Option<usize>,
}

/// The config file: the flags' long names as keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    host: Option<Vec<String>>,
    runtime: Option<String>,
    shim: Option<PathBuf>,
    cgroup_parent: Option<String>,
    log_level: Option<String>,
    log_format: Option<LogFormat>,
    tls_ca: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    insecure_registries: Option<Vec<String>>,
    max_concurrent_downloads: Option<usize>,
    max_concurrent_uploads: Option<usize>,
}

/// Where the API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket at this path.
    Unix(PathBuf),
    /// A TCP address, served with mutual TLS only.
    Tcp(SocketAddr),
}

impl Endpoint {
    /// Parses `unix:///path` or `tcp://addr:port`.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        if let Some(path) = url.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(ConfigError::Invalid(format!(
                    "invalid host {url:?}: a unix socket path must be absolute"
                )));
            }
            Ok(Self::Unix(PathBuf::from(path)))
        } else if let Some(addr) = url.strip_prefix("tcp://") {
            addr.parse().map(Self::Tcp).map_err(|e| {
                ConfigError::Invalid(format!("invalid host {url:?}: {e} (want tcp://IP:PORT)"))
            })
        } else {
            Err(ConfigError::Invalid(format!(
                "invalid host {url:?}: want unix:///path or tcp://IP:PORT"
            )))
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

/// The TLS files of TCP endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The client CA.
    pub ca: PathBuf,
    /// The server certificate.
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
}

/// The OCI runtime containers run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSetting {
    /// What the shim drives.
    pub choice: RuntimeChoice,
    /// How it is shown (`builtin`, `runc`, or the path given).
    pub name: String,
}

/// The daemon's resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Persistent state.
    pub root: PathBuf,
    /// Runtime state.
    pub exec_root: PathBuf,
    /// API endpoints.
    pub hosts: Vec<Endpoint>,
    /// The OCI runtime.
    pub runtime: RuntimeSetting,
    /// The shim executable.
    pub shim: PathBuf,
    /// The cgroup holding the containers' cgroups, `/`-prefixed, without a trailing `/`.
    pub cgroup_parent: String,
    /// Log filter.
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
    /// TLS files, required when any endpoint is TCP.
    pub tls: Option<TlsFiles>,
    /// How registries are reached.
    pub registry: RegistryConfig,
}

impl Config {
    /// Merges flags over the config file over defaults, and checks the result.
    pub fn load(args: Args) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let hosts = if args.hosts.is_empty() {
            file.host.unwrap_or_else(|| vec![DEFAULT_HOST.to_owned()])
        } else {
            args.hosts
        };
        let hosts = hosts
            .iter()
            .map(|h| Endpoint::parse(h))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = tls_files(
            args.tls_ca.or(file.tls_ca),
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        )?;
        if tls.is_none() && hosts.iter().any(|h| matches!(h, Endpoint::Tcp(_))) {
            return Err(ConfigError::Invalid(
                "a tcp:// host requires mutual TLS: give --tls-ca, --tls-cert and --tls-key"
                    .to_owned(),
            ));
        }
        let registry = registry_config(
            if args.insecure_registries.is_empty() {
                file.insecure_registries.unwrap_or_default()
            } else {
                args.insecure_registries
            },
            args.max_concurrent_downloads
                .or(file.max_concurrent_downloads),
            args.max_concurrent_uploads.or(file.max_concurrent_uploads),
        )?;
        let root = absolute("root", args.root.or(file.root), DEFAULT_ROOT)?;
        let exec_root = short_enough_for_sockets(absolute(
            "exec-root",
            args.exec_root.or(file.exec_root),
            DEFAULT_EXEC_ROOT,
        )?)?;
        let runtime = resolve_runtime(
            args.runtime
                .or(file.runtime)
                .as_deref()
                .unwrap_or("builtin"),
            std::env::var_os("PATH").as_deref(),
        )?;
        let shim = match args.shim.or(file.shim) {
            Some(path) => path,
            None => default_shim()?,
        };
        let cgroup_parent = cgroup_parent(
            args.cgroup_parent
                .or(file.cgroup_parent)
                .as_deref()
                .unwrap_or(DEFAULT_CGROUP_PARENT),
        )?;
        Ok(Self {
            root,
            exec_root,
            hosts,
            runtime,
            shim,
            cgroup_parent,
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".to_owned()),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            tls,
            registry,
        })
    }
}

/// Shim sockets live at `<exec-root>/shims/<64-hex id>.sock`, and a unix socket path has at
/// most 107 bytes: refuse an exec root that leaves no room, at start rather than at the first
/// container start.
fn short_enough_for_sockets(exec_root: PathBuf) -> Result<PathBuf, ConfigError> {
    const SUN_PATH_MAX: usize = 107;
    const SHIM_SOCKET_SUFFIX: usize = "/shims/".len() + 64 + ".sock".len();
    let max = SUN_PATH_MAX - SHIM_SOCKET_SUFFIX;
    if exec_root.as_os_str().len() > max {
        return Err(ConfigError::Invalid(format!(
            "exec-root {} is too long: shim sockets under it need it to be at most {max} bytes",
            exec_root.display()
        )));
    }
    Ok(exec_root)
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

fn absolute(key: &str, value: Option<PathBuf>, default: &str) -> Result<PathBuf, ConfigError> {
    let path = value.unwrap_or_else(|| PathBuf::from(default));
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(ConfigError::Invalid(format!(
            "--{key} must be an absolute path, got {}",
            path.display()
        )))
    }
}

/// Normalises a cgroup parent to `/a/b`; refuses `..` and empty components.
fn cgroup_parent(value: &str) -> Result<String, ConfigError> {
    let parts: Vec<&str> = value.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(ConfigError::Invalid(format!(
            "invalid --cgroup-parent {value:?}: want a path such as /berth"
        )));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// The registry settings, checked: registries as `host[:port]`, transfer counts of at least 1.
fn registry_config(
    insecure_registries: Vec<String>,
    downloads: Option<usize>,
    uploads: Option<usize>,
) -> Result<RegistryConfig, ConfigError> {
    let defaults = RegistryConfig::default();
    for registry in &insecure_registries {
        if registry.is_empty() || registry.contains('/') || registry.contains(char::is_whitespace) {
            return Err(ConfigError::Invalid(format!(
                "invalid insecure registry {registry:?}: want host[:port], without a scheme"
            )));
        }
    }
    let count = |key: &str, value: Option<usize>, default: usize| match value {
        Some(0) => Err(ConfigError::Invalid(format!("--{key} must be at least 1"))),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    Ok(RegistryConfig {
        insecure_registries,
        max_concurrent_downloads: count(
            "max-concurrent-downloads",
            downloads,
            defaults.max_concurrent_downloads,
        )?,
        max_concurrent_uploads: count(
            "max-concurrent-uploads",
            uploads,
            defaults.max_concurrent_uploads,
        )?,
    })
}

fn tls_files(
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<TlsFiles>, ConfigError> {
    match (ca, cert, key) {
        (None, None, None) => Ok(None),
        (Some(ca), Some(cert), Some(key)) => Ok(Some(TlsFiles { ca, cert, key })),
        _ => Err(ConfigError::Invalid(
            "--tls-ca, --tls-cert and --tls-key go together".to_owned(),
        )),
    }
}

/// Resolves `builtin`, a runtime name on `PATH`, or a path to an executable.
pub fn resolve_runtime(
    value: &str,
    path_var: Option<&std::ffi::OsStr>,
) -> Result<RuntimeSetting, ConfigError> {
    if value == "builtin" {
        return Ok(RuntimeSetting {
            choice: RuntimeChoice::Builtin,
            name: "builtin".to_owned(),
        });
    }
    let binary = if value.contains('/') {
        let path = PathBuf::from(value);
        is_executable(&path).then_some(path)
    } else {
        path_var.and_then(|p| {
            std::env::split_paths(p)
                .map(|dir| dir.join(value))
                .find(|candidate| is_executable(candidate))
        })
    };
    match binary {
        Some(path) => Ok(RuntimeSetting {
            choice: RuntimeChoice::Binary(path),
            name: value.to_owned(),
        }),
        None => Err(ConfigError::Invalid(format!(
            "--runtime {value}: no such executable (want builtin, runc, crun or a path)"
        ))),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn default_shim() -> Result<PathBuf, ConfigError> {
    let exe = std::env::current_exe()
        .map_err(|e| ConfigError::Invalid(format!("locating berthd's executable: {e}")))?;
    Ok(exe.with_file_name("berth-shim"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn endpoints_parse_unix_and_tcp_and_refuse_the_rest() {
        assert_eq!(
            Endpoint::parse("unix:///run/x.sock").unwrap(),
            Endpoint::Unix("/run/x.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2376").unwrap(),
            Endpoint::Tcp("127.0.0.1:2376".parse().unwrap())
        );
        assert!(Endpoint::parse("unix://relative.sock").is_err());
        assert!(Endpoint::parse("http://x").is_err());
        assert!(Endpoint::parse("tcp://nohost").is_err());
    }

    #[test]
    fn tcp_without_tls_refuses_to_start() {
        let args = Args {
            hosts: vec!["tcp://127.0.0.1:2376".into()],
            shim: Some("/x/berth-shim".into()),
            ..Args::default()
        };
        let err = Config::load(args).unwrap_err();
        assert!(err.to_string().contains("requires mutual TLS"), "{err}");
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "root = \"/srv/berth\"\nexec-root = \"/run/b\"\nlog-level = \"debug\"\nlog-format = \"json\"\nhost = [\"unix:///run/b/api.sock\"]"
        )
        .unwrap();
        let args = Args {
            config: Some(file.path().to_owned()),
            root: Some("/flag/root".into()),
            shim: Some("/x/berth-shim".into()),
            ..Args::default()
        };
        let config = Config::load(args).unwrap();
        assert_eq!(config.root, PathBuf::from("/flag/root"));
        assert_eq!(config.exec_root, PathBuf::from("/run/b"));
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(40)));
        let err = short_enough_for_sockets(long).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
        assert_eq!(config.log_level, "debug");
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.hosts, [Endpoint::Unix("/run/b/api.sock".into())]);
        assert_eq!(config.runtime.choice, RuntimeChoice::Builtin);
    }

    #[test]
    fn cgroup_parents_are_normalised() {
        assert_eq!(cgroup_parent("/berth").unwrap(), "/berth");
        assert_eq!(cgroup_parent("a/b/").unwrap(), "/a/b");
        assert!(cgroup_parent("/").is_err());
        assert!(cgroup_parent("/a/../b").is_err());
    }

    #[test]
    fn the_shipped_config_file_parses_with_every_key_set() {
        let shipped = include_str!("../../../deploy/berthd.toml");
        let uncommented: String = shipped
            .lines()
            .filter_map(|l| l.strip_prefix("# ").filter(|l| l.contains(" = ")))
            .map(|l| format!("{}\n", l.split("   #").next().unwrap_or(l)))
            .collect();
        let file: FileConfig = toml::from_str(&uncommented).unwrap();
        assert_eq!(file.root, Some(PathBuf::from(DEFAULT_ROOT)));
        assert_eq!(file.host, Some(vec![DEFAULT_HOST.to_owned()]));
        assert_eq!(file.cgroup_parent.as_deref(), Some(DEFAULT_CGROUP_PARENT));
        assert_eq!(file.log_format, Some(LogFormat::Text));
        assert!(file.tls_key.is_some());
        assert_eq!(
            file.insecure_registries,
            Some(vec!["registry.lan:5000".to_owned()])
        );
        assert_eq!(file.max_concurrent_downloads, Some(3));
        assert_eq!(file.max_concurrent_uploads, Some(5));
    }

    #[test]
    fn registry_settings_merge_and_are_checked() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "insecure-registries = [\"a.lan:5000\"]\nmax-concurrent-downloads = 7"
        )
        .unwrap();
        let load = |args: Args| {
            Config::load(Args {
                config: Some(file.path().to_owned()),
                shim: Some("/x/berth-shim".into()),
                ..args
            })
        };
        let config = load(Args::default()).unwrap();
        assert_eq!(config.registry.insecure_registries, ["a.lan:5000"]);
        assert_eq!(config.registry.max_concurrent_downloads, 7);
        assert_eq!(config.registry.max_concurrent_uploads, 5);
        let config = load(Args {
            insecure_registries: vec!["b.lan".into(), "c.lan:80".into()],
            max_concurrent_uploads: Some(2),
            ..Args::default()
        })
        .unwrap();
        assert_eq!(config.registry.insecure_registries, ["b.lan", "c.lan:80"]);
        assert_eq!(config.registry.max_concurrent_uploads, 2);
        let err = load(Args {
            max_concurrent_downloads: Some(0),
            ..Args::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        let err = load(Args {
            insecure_registries: vec!["http://x.lan".into()],
            ..Args::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("without a scheme"), "{err}");
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "rooot = \"/x\"").unwrap();
        let args = Args {
            config: Some(file.path().to_owned()),
            ..Args::default()
        };
        assert!(matches!(
            Config::load(args).unwrap_err(),
            ConfigError::Parse { .. }
        ));
    }

    #[test]
    fn runtimes_resolve_on_path_or_fail() {
        let dir = tempfile::tempdir().unwrap();
        let runc = dir.path().join("runc");
        std::fs::write(&runc, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runc, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        let found = resolve_runtime("runc", Some(&path)).unwrap();
        assert_eq!(found.choice, RuntimeChoice::Binary(runc.clone()));
        assert!(resolve_runtime("crun", Some(&path)).is_err());
        assert!(resolve_runtime(runc.to_str().unwrap(), None).is_ok());
        assert!(resolve_runtime("/nonexistent/runc", None).is_err());
    }
}
