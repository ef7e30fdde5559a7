//! Page tokens for lists sorted newest first.
//!
//! A token names the last item of the previous page by its sort key (creation time, then ID),
//! so pages stay correct when items are added or removed between calls.

use crate::error::{DomainError, DomainResult};

/// The page size when the request gives none.
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// The sort key of an item: creation time in nanoseconds, then ID; lists are in descending order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey {
    /// Creation time, nanoseconds since the epoch.
    pub created: i128,
    /// The ID, to break ties.
    pub id: String,
}

/// Returns the page after `token` of `items` (sorted by descending key) and the next token.
pub fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> SortKey,
    page_size: i32,
    token: &str,
) -> DomainResult<(Vec<T>, String)> {
    let size = match usize::try_from(page_size) {
        Ok(0) => DEFAULT_PAGE_SIZE,
        Ok(n) => n,
        Err(_) => {
            return Err(DomainError::InvalidArgument(format!(
                "invalid page_size {page_size}: must not be negative"
            )))
        }
    };
    let after = if token.is_empty() {
        None
    } else {
        Some(decode(token)?)
    };
    let mut page: Vec<T> = items
        .into_iter()
        .filter(|item| after.as_ref().is_none_or(|a| key(item) < *a))
        .take(size + 1)
        .collect();
    let next = if page.len() > size {
        page.truncate(size);
        page.last()
            .map(|last| encode(&key(last)))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok((page, next))
}

fn encode(key: &SortKey) -> String {
    format!("{}.{}", key.created, key.id)
}

fn decode(token: &str) -> DomainResult<SortKey> {
    let invalid = || DomainError::InvalidArgument(format!("invalid page token {token:?}"));
    let (created, id) = token.split_once('.').ok_or_else(invalid)?;
    Ok(SortKey {
        created: created.parse().map_err(|_| invalid())?,
        id: id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: i128) -> Vec<SortKey> {
        (0..n)
            .rev()
            .map(|i| SortKey {
                created: i / 2,
                id: format!("id{i:03}"),
            })
            .collect()
    }

    #[test]
    fn pages_cover_every_item_once_in_order() {
        let all = items(7);
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let (page, next) = paginate(all.clone(), Clone::clone, 3, &token).unwrap();
            assert!(page.len() <= 3);
            seen.extend(page);
            if next.is_empty() {
                break;
            }
            token = next;
        }
        assert_eq!(seen, all);
    }

    #[test]
    fn an_exact_multiple_ends_with_an_empty_token() {
        let (page, next) = paginate(items(3), Clone::clone, 3, "").unwrap();
        assert_eq!(page.len(), 3);
        assert!(next.is_empty());
        let (page, next) = paginate(items(3), Clone::clone, 0, "").unwrap();
        assert_eq!(page.len(), 3);
        assert!(next.is_empty());
    }

    #[test]
    fn items_added_between_pages_do_not_shift_later_pages() {
        let all = items(6);
        let (first, token) = paginate(all.clone(), Clone::clone, 2, "").unwrap();
        let mut grown = vec![SortKey {
            created: 100,
            id: "new".into(),
        }];
        grown.extend(all.clone());
        let (second, _) = paginate(grown, Clone::clone, 2, &token).unwrap();
        assert_eq!(first, all[..2]);
        assert_eq!(second, all[2..4]);
    }

    #[test]
    fn bad_tokens_and_sizes_are_invalid_arguments() {
        assert!(paginate(items(2), Clone::clone, 1, "garbage").is_err());
        assert!(paginate(items(2), Clone::clone, -1, "").is_err());
    }
}
