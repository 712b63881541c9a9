//! The shape of the core, checked over its source: the modules form layers (no module reaches,
//! through any chain of imports, back to itself), `executions` alone writes its table, and only
//! the orchestration layer knows the worker pool and the job handlers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The code of a file without its unit tests and comments (a doc link is not a dependency).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Folders that group modules: a module inside one counts on its own (`platform::catalog`).
const GROUPS: [&str; 2] = ["platform", "engine"];

/// The module a file of `src/` belongs to: its top-level module, or its module inside a group.
fn module_of(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap();
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    match parts.as_slice() {
        [group, module, ..] if GROUPS.contains(&group.as_str()) => format!("{group}::{module}"),
        [module, ..] => module.clone(),
        [] => unreachable!("a file has a name"),
    }
}

/// Every path a use tree names (`a::{b, c::{d}}` names `a::b` and `a::c::d`), as segments.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path: Vec<String> = tree.split("::").map(|s| s.split_whitespace().next().unwrap_or_default().to_string()).filter(|s| !s.is_empty()).collect();
        return vec![path];
    };
    let prefix: Vec<String> = tree[..open].split("::").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items.into_iter().filter(|i| !i.trim().is_empty()).flat_map(expand).map(|rest| [prefix.clone(), rest].concat()).collect()
}

/// The modules `code` names after `crate::` (in `use` trees too), as [`module_of`] names them.
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        // The use tree (or path) that follows: identifiers, `::`, braces, commas, spaces.
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| match c {
                '{' => {
                    depth += 1;
                    false
                }
                '}' if depth == 0 => true,
                '}' => {
                    depth -= 1;
                    false
                }
                c if c.is_alphanumeric() || c == '_' || c == ':' || c == '*' => false,
                ',' | ' ' | '\n' | '\t' => depth == 0,
                _ => true,
            })
            .map_or(rest.len(), |(i, _)| i);
        for path in expand(&rest[..end]) {
            match path.as_slice() {
                [group, module, ..] if GROUPS.contains(&group.as_str()) => out.insert(format!("{group}::{module}")),
                [module, ..] => out.insert(module.clone()),
                [] => false,
            };
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&src);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).filter(|m| m != "lib" && !GROUPS.contains(&m.as_str())).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for file in &files {
        let from = module_of(&src, file);
        if from == "lib" || GROUPS.contains(&from.as_str()) {
            continue;
        }
        for to in imports(&code(file)) {
            if to != from && modules.contains(&to) {
                graph.get_mut(&from).unwrap().insert(to);
            }
        }
    }
    graph
}

/// A chain of imports from `from` back to itself, if there is one.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        for next in &graph[path.last().unwrap()] {
            if next == from {
                return Some([path.clone(), vec![from.to_string()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push([path.clone(), vec![next.clone()]].concat());
            }
        }
    }
    None
}

#[test]
fn the_core_modules_form_layers() {
    let graph = graph();
    assert!(graph.len() > 25 && graph["executions"].contains("configurations"), "the scan finds the modules and their imports: {graph:?}");
    assert!(graph["executions"].contains("platform::catalog") && graph["platform::accounts"].contains("platform::audit"), "and the grouped ones: {graph:?}");
    let cycles: Vec<String> = graph.keys().filter_map(|m| cycle_through(&graph, m)).map(|c| c.join(" → ")).collect();
    assert!(cycles.is_empty(), "modules that import each other, directly or through others:\n{}", cycles.join("\n"));
}

#[test]
fn the_scan_sees_grouped_imports_and_skips_comments() {
    let found = imports("use crate::{a::{b, c}, d, platform::{jobs::{self, Lease}, time}};\n let x = crate::e::f(); crate::engine::repo::X;");
    assert_eq!(found, ["a", "d", "e", "engine::repo", "platform::jobs", "platform::time"].into_iter().map(String::from).collect());
}

#[test]
fn executions_alone_writes_its_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let writers: Vec<String> = sources(&src)
        .into_iter()
        .filter(|f| module_of(&src, f) != "executions")
        .filter(|f| {
            let code = code(f).split_whitespace().collect::<Vec<_>>().join(" ");
            ["INSERT INTO backup_executions", "UPDATE backup_executions", "DELETE FROM backup_executions"].iter().any(|w| code.contains(w))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(writers.is_empty(), "these write backup_executions; go through crate::executions instead: {writers:?}");
}

#[test]
fn only_the_orchestration_layer_knows_the_pool_and_the_handlers() {
    let graph = graph();
    let users: Vec<&String> = graph.iter().filter(|(m, to)| *m != "orchestration" && to.contains("orchestration")).map(|(m, _)| m).collect();
    assert!(users.is_empty(), "operations use the queue (crate::platform::jobs), not the pool: {users:?}");
}
