//! Restart policies: whether to restart after an exit, and the backoff before it.

use std::time::Duration;

use berth_proto::node::v1::{RestartPolicy, RestartPolicyName};

use crate::error::{DomainError, DomainResult};

/// The first backoff delay.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// Checks a policy from a request.
pub fn validate(policy: Option<&RestartPolicy>, auto_remove: bool) -> DomainResult<()> {
    let Some(policy) = policy else { return Ok(()) };
    let name = RestartPolicyName::try_from(policy.name).map_err(|_| {
        DomainError::InvalidArgument(format!("invalid restart policy {}", policy.name))
    })?;
    if policy.maximum_retry_count < 0 {
        return Err(DomainError::InvalidArgument(
            "invalid restart policy: maximum retry count cannot be negative".to_owned(),
        ));
    }
    if policy.maximum_retry_count > 0 && name != RestartPolicyName::OnFailure {
        return Err(DomainError::InvalidArgument(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                .to_owned(),
        ));
    }
    let restarts = !matches!(name, RestartPolicyName::Unspecified | RestartPolicyName::No);
    if restarts && auto_remove {
        return Err(DomainError::InvalidArgument(
            "can't create 'AutoRemove' container with restart policy".to_owned(),
        ));
    }
    Ok(())
}

/// What the policy says after an exit.
pub fn should_restart(
    policy: Option<&RestartPolicy>,
    exit_code: i32,
    restart_count: i32,
    stopped_by_user: bool,
) -> bool {
    let Some(policy) = policy else { return false };
    if stopped_by_user {
        return false;
    }
    match RestartPolicyName::try_from(policy.name) {
        Ok(RestartPolicyName::Always | RestartPolicyName::UnlessStopped) => true,
        Ok(RestartPolicyName::OnFailure) => {
            exit_code != 0
                && (policy.maximum_retry_count == 0 || restart_count < policy.maximum_retry_count)
        }
        _ => false,
    }
}

/// Whether the policy starts the container when the daemon starts.
pub fn starts_with_daemon(policy: Option<&RestartPolicy>, stopped_by_user: bool) -> bool {
    !stopped_by_user
        && policy.is_some_and(|p| {
            matches!(
                RestartPolicyName::try_from(p.name),
                Ok(RestartPolicyName::Always | RestartPolicyName::UnlessStopped)
            )
        })
}

/// The delay before the next restart: it doubles after each quick exit up to the cap, and
/// starts over after a run of at least [`RESET_AFTER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: INITIAL_BACKOFF,
        }
    }
}

impl Backoff {
    /// The delay to wait after a run that lasted `uptime`.
    pub fn after_run(&mut self, uptime: Duration) -> Duration {
        if uptime >= RESET_AFTER {
            self.next = INITIAL_BACKOFF;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: RestartPolicyName, max: i32) -> RestartPolicy {
        RestartPolicy {
            name: name.into(),
            maximum_retry_count: max,
        }
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(5);
        let delays: Vec<u128> = (0..12).map(|_| b.after_run(quick).as_millis()).collect();
        assert_eq!(&delays[..5], [100, 200, 400, 800, 1600]);
        assert_eq!(delays[10], 60_000);
        assert_eq!(delays[11], 60_000);
        assert_eq!(b.after_run(Duration::from_secs(10)), INITIAL_BACKOFF);
        assert_eq!(b.after_run(quick), Duration::from_millis(200));
    }

    #[test]
    fn policies_decide_restarts() {
        let always = policy(RestartPolicyName::Always, 0);
        let on_failure = policy(RestartPolicyName::OnFailure, 2);
        let no = policy(RestartPolicyName::No, 0);
        assert!(should_restart(Some(&always), 0, 50, false));
        assert!(!should_restart(Some(&always), 1, 0, true));
        assert!(should_restart(Some(&on_failure), 1, 1, false));
        assert!(!should_restart(Some(&on_failure), 1, 2, false));
        assert!(!should_restart(Some(&on_failure), 0, 0, false));
        assert!(should_restart(
            Some(&policy(RestartPolicyName::OnFailure, 0)),
            3,
            1000,
            false
        ));
        assert!(!should_restart(Some(&no), 1, 0, false));
        assert!(!should_restart(None, 1, 0, false));
    }

    #[test]
    fn daemon_start_honours_manual_stops() {
        let always = policy(RestartPolicyName::Always, 0);
        let unless = policy(RestartPolicyName::UnlessStopped, 0);
        assert!(starts_with_daemon(Some(&always), false));
        assert!(starts_with_daemon(Some(&unless), false));
        assert!(!starts_with_daemon(Some(&unless), true));
        assert!(!starts_with_daemon(Some(&always), true));
        assert!(!starts_with_daemon(
            Some(&policy(RestartPolicyName::OnFailure, 0)),
            false
        ));
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(validate(Some(&policy(RestartPolicyName::Always, 3)), false).is_err());
        assert!(validate(Some(&policy(RestartPolicyName::OnFailure, -1)), false).is_err());
        assert!(validate(Some(&policy(RestartPolicyName::Always, 0)), true).is_err());
        assert!(validate(
            Some(&RestartPolicy {
                name: 42,
                maximum_retry_count: 0
            }),
            false
        )
        .is_err());
        validate(Some(&policy(RestartPolicyName::OnFailure, 3)), false).unwrap();
        validate(None, true).unwrap();
    }
}
