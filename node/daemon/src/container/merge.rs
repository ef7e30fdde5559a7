//! Merging an image's defaults into a container's config, as Docker does.

use berth_image::ImageConfig;
use berth_proto::node::v1::ContainerConfig;

use crate::error::{DomainError, DomainResult};

/// Fills what the user left unset from the image. An overridden entrypoint drops the image's
/// command; environment entries of the user replace the image's with the same key.
pub fn merge_image_defaults(config: &mut ContainerConfig, image: &ImageConfig) {
    if !config.entrypoint_set {
        config.entrypoint.clone_from(&image.entrypoint);
        if config.cmd.is_empty() {
            config.cmd.clone_from(&image.cmd);
        }
    }
    config.env = merge_env(&image.env, &config.env);
    if config.working_dir.is_empty() {
        config.working_dir.clone_from(&image.working_dir);
    }
    if config.user.is_empty() {
        config.user.clone_from(&image.user);
    }
    if config.stop_signal.is_empty() {
        config.stop_signal.clone_from(&image.stop_signal);
    }
    for (key, value) in &image.labels {
        config
            .labels
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
}

/// The image's environment with the user's entries applied: a `KEY=VALUE` replaces the same
/// key, a bare `KEY` is dropped (Docker passes it only if the client resolved it).
fn merge_env(image: &[String], user: &[String]) -> Vec<String> {
    let key = |entry: &str| entry.split('=').next().unwrap_or("").to_owned();
    let mut merged: Vec<String> = image.to_vec();
    for entry in user.iter().filter(|e| e.contains('=')) {
        let k = key(entry);
        match merged.iter_mut().find(|e| key(e) == k) {
            Some(existing) => existing.clone_from(entry),
            None => merged.push(entry.clone()),
        }
    }
    merged
}

/// The main process's executable and arguments (entrypoint then command).
pub fn path_and_args(config: &ContainerConfig) -> DomainResult<(String, Vec<String>)> {
    let mut words = config.entrypoint.iter().chain(&config.cmd).cloned();
    let path = words
        .next()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| DomainError::InvalidArgument("No command specified".to_owned()))?;
    Ok((path, words.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageConfig {
        ImageConfig {
            user: "app".into(),
            env: vec!["PATH=/bin".into(), "A=1".into()],
            entrypoint: vec!["/entry".into()],
            cmd: vec!["serve".into()],
            working_dir: "/srv".into(),
            labels: [
                ("l".to_owned(), "image".to_owned()),
                ("m".to_owned(), "x".to_owned()),
            ]
            .into(),
            stop_signal: "SIGQUIT".into(),
            ..ImageConfig::default()
        }
    }

    #[test]
    fn unset_fields_come_from_the_image() {
        let mut c = ContainerConfig {
            env: vec!["A=2".into(), "B=3".into(), "BARE".into()],
            labels: [("l".to_owned(), "mine".to_owned())].into(),
            ..ContainerConfig::default()
        };
        merge_image_defaults(&mut c, &image());
        assert_eq!(c.entrypoint, ["/entry"]);
        assert_eq!(c.cmd, ["serve"]);
        assert_eq!(c.env, ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(c.working_dir, "/srv");
        assert_eq!(c.user, "app");
        assert_eq!(c.stop_signal, "SIGQUIT");
        assert_eq!(c.labels["l"], "mine");
        assert_eq!(c.labels["m"], "x");
        assert_eq!(
            path_and_args(&c).unwrap(),
            ("/entry".to_owned(), vec!["serve".to_owned()])
        );
    }

    #[test]
    fn an_overridden_entrypoint_drops_the_image_command() {
        let mut c = ContainerConfig {
            entrypoint: vec![],
            entrypoint_set: true,
            cmd: vec![],
            ..ContainerConfig::default()
        };
        merge_image_defaults(&mut c, &image());
        assert!(c.entrypoint.is_empty() && c.cmd.is_empty());
        assert!(path_and_args(&c).is_err());

        let mut c = ContainerConfig {
            cmd: vec!["echo".into(), "hi".into()],
            ..ContainerConfig::default()
        };
        merge_image_defaults(&mut c, &image());
        assert_eq!(c.entrypoint, ["/entry"]);
        assert_eq!(c.cmd, ["echo", "hi"]);
    }
}
