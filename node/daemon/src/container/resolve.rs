//! Finding a container by full ID, name or unique ID prefix.

use crate::error::{DomainError, DomainResult};

/// Resolves `query` among `(id, name)` pairs: a full ID first, then a name (with or without
/// a leading `/`), then a unique ID prefix.
pub fn resolve<'a, I>(query: &str, containers: I) -> DomainResult<String>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    if query.is_empty() {
        return Err(DomainError::InvalidArgument(
            "no container ID or name given".to_owned(),
        ));
    }
    if let Some((id, _)) = containers.clone().into_iter().find(|(id, _)| *id == query) {
        return Ok(id.to_owned());
    }
    let name = query.strip_prefix('/').unwrap_or(query);
    if let Some((id, _)) = containers.clone().into_iter().find(|(_, n)| *n == name) {
        return Ok(id.to_owned());
    }
    let mut matches = containers
        .into_iter()
        .filter(|(id, _)| id.starts_with(query));
    match (matches.next(), matches.next()) {
        (Some((id, _)), None) => Ok(id.to_owned()),
        (Some(_), Some(_)) => Err(DomainError::InvalidArgument(format!(
            "multiple IDs found with provided prefix: {query}"
        ))),
        (None, _) => Err(DomainError::NotFound(format!("No such container: {query}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(&str, &str); 3] = [("abc123", "web"), ("abd456", "db"), ("ff0000", "abc")];

    #[test]
    fn ids_then_names_then_unique_prefixes() {
        assert_eq!(resolve("abc123", ALL).unwrap(), "abc123");
        assert_eq!(resolve("web", ALL).unwrap(), "abc123");
        assert_eq!(resolve("/db", ALL).unwrap(), "abd456");
        // A name wins over an ID prefix.
        assert_eq!(resolve("abc", ALL).unwrap(), "ff0000");
        assert_eq!(resolve("abd", ALL).unwrap(), "abd456");
        assert_eq!(resolve("f", ALL).unwrap(), "ff0000");
    }

    #[test]
    fn ambiguous_and_unknown_are_errors() {
        assert!(matches!(
            resolve("ab", ALL),
            Err(DomainError::InvalidArgument(_))
        ));
        let err = resolve("zz", ALL).unwrap_err();
        assert!(matches!(err, DomainError::NotFound(_)));
        assert_eq!(err.to_string(), "No such container: zz");
        assert!(resolve("", ALL).is_err());
    }
}
