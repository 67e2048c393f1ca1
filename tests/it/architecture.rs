//! The module graph stays one-way. Every `crate::…` path (and `super::…` path that climbs to the crate root) in
//! `src/` is an edge between two top-level modules; the graph must have no cycle, `metrics` must stay a leaf, and the
//! server's three parts (api, checker, reload) meet only in `live`.
//! docs/ARCHITECTURE.md draws the graph this test reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules, as `src/lib.rs` declares them.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read src/lib.rs");
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').trim().to_string())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/api/relay.rs` → `[api, relay]`, `src/api/mod.rs` → `[api]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments (doc links such as [`crate::pool`] are not dependencies).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // `"http://…"` is not a comment; a `//` inside a string literal is rare enough to count quotes.
            Some(at) if line[..at].matches('"').count() % 2 == 0 => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` (in the module at `path`) refers to.
fn references(code: &str, path: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident = |at: usize| -> String {
        code[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        // `$crate::` in a macro is the same crate; anything like `foo_crate::` is not ours.
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let rest = at + "crate::".len();
        if code[rest..].starts_with('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in code[rest..].char_indices() {
                match c {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if item_start && depth == 1 && (c.is_alphanumeric() || c == '_') => {
                        found.insert(ident(rest + i));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    // `super::super::x` from deep enough climbs to the crate root: `x` is then a top-level module.
    for (at, _) in code.match_indices("super::") {
        if at > 0 && code[..at].ends_with("super::") {
            continue; // counted from the first `super::` of the chain
        }
        let mut depth = path.len();
        let mut next = at;
        while code[next..].starts_with("super::") {
            depth = depth.saturating_sub(1);
            next += "super::".len();
        }
        if depth == 0 {
            found.insert(ident(next));
        }
    }
    found
}

/// Edges between top-level modules, from every file under `src`.
fn module_graph(src: &Path) -> Graph {
    let modules = top_level_modules(src);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let path = module_path(rel);
        let Some(from) = path.first().filter(|m| modules.contains(*m)) else {
            continue; // lib.rs and main.rs sit above every module
        };
        let text = std::fs::read_to_string(&file).expect("read source");
        for to in references(&code_only(&text), &path) {
            if modules.contains(&to) && &to != from {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// A cycle as `a → b → a`, if the graph has one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

fn show(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(from, to)| {
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            format!("  {from} → {}", to.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = module_graph(&src());
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "module cycle: {}\nthe graph (docs/ARCHITECTURE.md says which way each edge may go):\n{}",
            cycle.join(" → "),
            show(&graph)
        );
    }
}

#[test]
fn metrics_only_records() {
    let graph = module_graph(&src());
    let uses = &graph["metrics"];
    assert!(
        uses.is_empty(),
        "metrics must be a leaf that only records, but it uses {uses:?}; the admin face sets the per-token gauges"
    );
}

#[test]
fn the_api_the_checker_and_the_reload_triggers_meet_only_in_live() {
    let graph = module_graph(&src());
    let siblings = ["api", "checker", "reload"];
    for from in siblings {
        let uses: Vec<&String> = graph[from]
            .iter()
            .filter(|to| siblings.contains(&to.as_str()))
            .collect();
        assert!(
            uses.is_empty(),
            "{from} uses {uses:?}; what they share belongs in live (AppState, Live, Reloader)"
        );
    }
}

/// The checker itself: it finds the edges this file's own shape would make, and the cycle they close.
#[test]
fn the_check_sees_uses_and_finds_cycles() {
    let code = "use crate::{live::Live, pool};\nlet x = crate::metrics::handle(); // crate::server\n\
                use super::super::config::Config;";
    let found = references(&code_only(code), &["api".into(), "relay".into()]);
    let want: BTreeSet<String> = ["live", "pool", "metrics", "config"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, want);
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&graph), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
