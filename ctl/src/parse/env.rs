//! `-e K=V|K` and `--env-file`, resolved as Docker does.

/// Resolves one `-e` value: `K=V` is kept; a bare `K` takes the caller's value of `K`, and is
/// dropped when the caller has none.
pub fn resolve_env(item: &str, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    if item.contains('=') {
        return Some(item.to_string());
    }
    lookup(item).map(|value| format!("{item}={value}"))
}

/// Parses an env file: one `K=V` or `K` per line; blank lines and `#` comments are skipped.
pub fn parse_env_file(
    content: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut vars = Vec::new();
    for (index, line) in content.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split_once('=').map_or(line, |(name, _)| name);
        if name.is_empty() {
            return Err(format!(
                "no variable name on line '{line}' (line {})",
                index + 1
            ));
        }
        if name.contains(char::is_whitespace) {
            return Err(format!(
                "variable '{name}' contains whitespaces (line {})",
                index + 1
            ));
        }
        vars.extend(resolve_env(line, &lookup));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn host(name: &str) -> Option<String> {
        (name == "HOME").then(|| "/root".to_string())
    }

    #[test]
    fn bare_names_come_from_the_caller() {
        assert_eq!(resolve_env("A=1", host).as_deref(), Some("A=1"));
        assert_eq!(resolve_env("A=", host).as_deref(), Some("A="));
        assert_eq!(resolve_env("HOME", host).as_deref(), Some("HOME=/root"));
        assert_eq!(resolve_env("UNSET", host), None);
    }

    #[test]
    fn env_file() {
        let file = "\u{feff}# comment\n\nA=1\n  B=two words\nHOME\nUNSET\nC=x=y\n";
        assert_eq!(
            parse_env_file(file, host).unwrap(),
            ["A=1", "B=two words", "HOME=/root", "C=x=y"]
        );
        assert!(parse_env_file("=x\n", host)
            .unwrap_err()
            .contains("no variable name"));
        assert!(parse_env_file("A B=1\n", host)
            .unwrap_err()
            .contains("whitespaces"));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,64}") {
            let _ = parse_env_file(&text, host);
        }

        #[test]
        fn assignments_are_kept(name in "[A-Z_][A-Z0-9_]{0,8}", value in "[^\n\r]{0,16}") {
            let line = format!("{name}={value}");
            prop_assert_eq!(parse_env_file(&line, host).unwrap(), vec![line.clone()]);
        }
    }
}
