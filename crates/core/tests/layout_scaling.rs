//! Validating a snap's layouts stays linear in their number (it was
//! quadratic: each item was compared with every item accepted before it),
//! and the indexed check finds the same first conflict as that scan.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use snapcell_core::layout::{self, Constraint, Layout};

fn bind(source: String) -> Layout {
    Layout {
        bind: source,
        ..Layout::default()
    }
}

/// `n` layouts that do not conflict, several levels deep.
fn layouts(n: usize) -> BTreeMap<String, Layout> {
    (0..n)
        .map(|i| {
            (
                format!("/usr/share/g{}/h{}/item{i}", i % 7, i % 13),
                bind(format!("$SNAP/data/{i}")),
            )
        })
        .collect()
}

fn time_to_validate(items: &BTreeMap<String, Layout>) -> Duration {
    let start = Instant::now();
    layout::validate_all("big", "x1", items).unwrap();
    start.elapsed()
}

#[test]
fn validation_is_linear_in_the_number_of_layouts() {
    let (small_items, large_items) = (layouts(8 * 1024), layouts(32 * 1024));
    // The best of a few alternating runs, so that a busy machine slows both.
    let (mut small, mut large) = (Duration::MAX, Duration::MAX);
    for _ in 0..4 {
        small = small.min(time_to_validate(&small_items));
        large = large.min(time_to_validate(&large_items));
    }
    // Linear growth is 4x (a little more for the maps); quadratic was 16x.
    // (On an idle machine a debug build takes about 0.25 s for 8k layouts
    // and 1 s for 32k, about 4 s before.)
    assert!(
        large < small * 9,
        "8k layouts: {small:?}, 32k layouts: {large:?}"
    );
}

/// The first conflict, found by scanning the accepted items in order, as
/// `validate_layout` does.
fn by_scan(items: &BTreeMap<String, Layout>) -> Result<(), String> {
    let mut prior = Vec::new();
    for (path, l) in items {
        layout::validate_layout("s", "x1", path, l, &prior).map_err(|e| e.to_string())?;
        let expanded = path.replace("$SNAP", "/snap/s/x1");
        prior.push(Constraint::of(l, &expanded));
    }
    Ok(())
}

#[test]
fn the_index_reports_the_first_conflict_as_the_scan_does() {
    let paths = [
        "/usr/a",
        "/usr/a/b",
        "/usr/ab",
        "/usr/a/b/c",
        "/usr/b/c",
        "/usr/b",
        "$SNAP/x",
        "/snap/s/x1/x/y",
        "$SNAP/x/y/z",
        "/etc/foo",
        "/etc/foo.d",
    ];
    // Every subset of up to 4 paths, each as a directory bind.
    let n = paths.len();
    for mask in 0u32..(1 << n) {
        if mask.count_ones() > 4 {
            continue;
        }
        let items: BTreeMap<String, Layout> = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| (paths[i].to_owned(), bind(format!("$SNAP/src{i}"))))
            .collect();
        let all = layout::validate_all("s", "x1", &items).map_err(|e| e.to_string());
        assert_eq!(all, by_scan(&items), "{:?}", items.keys());
    }
}
