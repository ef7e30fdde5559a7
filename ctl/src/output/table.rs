//! Column alignment like Go's `tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)`, which Docker uses for
//! every table: cells are padded to the widest cell of their column plus 3, at least 10 wide;
//! the last cell of a line is not padded.

const PADDING: usize = 3;

/// Aligns tab-separated lines into columns at least 10 wide (Docker's tables).
pub fn align(text: &str) -> String {
    align_min(text, 10)
}

/// Aligns tab-separated lines into columns at least 20 wide (`docker top`).
pub fn align_wide(text: &str) -> String {
    align_min(text, 20)
}

fn align_min(text: &str, min_width: usize) -> String {
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|line| line.split('\t').collect())
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        // Only cells followed by a tab belong to a column.
        for (column, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            let width = (cell.chars().count() + PADDING).max(min_width);
            match widths.get_mut(column) {
                Some(current) => *current = (*current).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::with_capacity(text.len() * 2);
    for row in &rows {
        for (column, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if column + 1 < row.len() {
                let pad = widths[column].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_docker_ps() {
        let text = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n\
                    bd1849b4d12f\tbb:1\t\"sleep 1000\"\t10 seconds ago\tExited (137) Less than a second ago\t\trefctr\n";
        let expected = "CONTAINER ID   IMAGE     COMMAND        CREATED          STATUS                                PORTS     NAMES\n\
                        bd1849b4d12f   bb:1      \"sleep 1000\"   10 seconds ago   Exited (137) Less than a second ago             refctr\n";
        assert_eq!(align(text), expected);
    }

    #[test]
    fn top_columns_are_twenty_wide() {
        assert_eq!(
            align_wide("UID\tPID\tCMD\nroot\t1\tsleep 1\n"),
            format!(
                "UID{}PID{}CMD\nroot{}1{}sleep 1\n",
                " ".repeat(17),
                " ".repeat(17),
                " ".repeat(16),
                " ".repeat(19)
            )
        );
    }

    #[test]
    fn single_column_is_untouched() {
        assert_eq!(align("a\nbb\n"), "a\nbb\n");
    }

    proptest! {
        #[test]
        fn never_panics_and_keeps_lines(text in "[a-z\t\n…]{0,60}") {
            let out = align(&text);
            prop_assert_eq!(out.lines().count(), text.lines().count());
        }
    }
}
