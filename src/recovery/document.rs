//! A plan document: read from YAML or JSON, checked as a whole (every problem named by step and
//! field, not only the first), and its steps resolved into a graph the engine runs.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_types::{PlanDocument, PlanProblem, StepSpec, StepType};

use super::steps;

/// The largest document accepted: a runbook of hundreds of steps is far smaller.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;
const MAX_STEPS: usize = 1000;

/// How the author wrote it; exports use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

/// Reads and checks a document. JSON when it starts with `{`, YAML otherwise.
pub fn read(text: &str) -> Result<(PlanDocument, Format), Vec<PlanProblem>> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(vec![whole(format!("the document is larger than {} KiB", MAX_DOCUMENT_BYTES / 1024))]);
    }
    let format = if text.trim_start().starts_with('{') { Format::Json } else { Format::Yaml };
    let document: PlanDocument = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| vec![whole(format!("not a plan document: {e}"))])?,
        Format::Yaml => serde_norway::from_str(text).map_err(|e| vec![whole(format!("not a plan document: {e}"))])?,
    };
    let problems = check(&document);
    if problems.is_empty() { Ok((document, format)) } else { Err(problems) }
}

fn whole(message: String) -> PlanProblem {
    PlanProblem { step: None, field: String::new(), message }
}

fn field(field: &str, message: impl Into<String>) -> PlanProblem {
    PlanProblem { step: None, field: field.to_string(), message: message.into() }
}

fn at_step(step: &StepSpec, field: &str, message: impl Into<String>) -> PlanProblem {
    PlanProblem { step: Some(step.name.clone()), field: field.to_string(), message: message.into() }
}

/// Every problem of a parsed document.
pub fn check(d: &PlanDocument) -> Vec<PlanProblem> {
    let mut problems = Vec::new();
    if d.name.trim().is_empty() || d.name.len() > 200 {
        problems.push(field("name", "1 to 200 characters"));
    }
    if !(1..=5).contains(&d.severity) {
        problems.push(field("severity", "1 (the worst) to 5"));
    }
    for (name, minutes) in [("estimatedRtoMinutes", d.estimated_rto_minutes), ("estimatedRpoMinutes", d.estimated_rpo_minutes)] {
        if !(0..=525_600).contains(&minutes) {
            problems.push(field(name, "0 to 525,600 minutes (a year)"));
        }
    }
    if !(1..=5).contains(&d.required_approvals) {
        problems.push(field("requiredApprovals", "1 to 5"));
    }
    if !(1..=3650).contains(&d.review_frequency_days) {
        problems.push(field("reviewFrequencyDays", "1 to 3,650 days"));
    }
    if let Some(criteria) = &d.failover_criteria {
        if criteria.service.trim().is_empty() {
            problems.push(field("failoverCriteria.service", "the monitored service whose probes start the plan"));
        }
        if !(1..=100).contains(&criteria.unhealthy_probes) {
            problems.push(field("failoverCriteria.unhealthyProbes", "1 to 100"));
        }
    }
    if let Some(schedule) = d.drill.as_ref().and_then(|drill| drill.schedule.as_deref())
        && let Err(e) = crate::schedule::Schedule::parse(schedule)
    {
        problems.push(field("drill.schedule", e.to_string()));
    }
    if d.steps.is_empty() {
        problems.push(field("steps", "a plan has at least one step"));
    }
    if d.steps.len() > MAX_STEPS {
        problems.push(field("steps", format!("at most {MAX_STEPS} steps")));
    }
    let mut names = BTreeSet::new();
    for step in &d.steps {
        if !valid_name(&step.name) {
            problems.push(at_step(step, "name", "1 to 100 letters, digits, spaces, '-', '_' or '.'"));
        }
        if !names.insert(step.name.as_str()) {
            problems.push(at_step(step, "name", "another step has this name"));
        }
        problems.extend(check_step(step));
    }
    problems.extend(cleanups_name_restores(d));
    if problems.is_empty() {
        if let Err(problem) = graph(d) {
            problems.push(problem);
        }
    }
    problems
}

/// A cleanup step names only the plan's `backup_restore` steps (what they created is what it
/// removes).
fn cleanups_name_restores(d: &PlanDocument) -> Vec<PlanProblem> {
    let restores: BTreeSet<&str> = d.steps.iter().filter(|s| s.step_type == StepType::BackupRestore).map(|s| s.name.as_str()).collect();
    let mut problems = Vec::new();
    for step in d.steps.iter().filter(|s| s.step_type == StepType::Cleanup) {
        let Ok(config) = steps::parse::<steps::cleanup::Config>(&step.config) else { continue };
        for (i, name) in config.steps.iter().enumerate() {
            if !restores.contains(name.as_str()) {
                problems.push(at_step(step, &format!("config.steps.{i}"), format!("no backup_restore step is called {name:?}")));
            }
        }
    }
    problems
}

fn valid_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
}

fn check_step(step: &StepSpec) -> Vec<PlanProblem> {
    let mut problems = Vec::new();
    if !(1..=86_400).contains(&step.timeout_seconds) {
        problems.push(at_step(step, "timeoutSeconds", "1 to 86,400"));
    }
    if !(0..=20).contains(&step.max_retries) {
        problems.push(at_step(step, "maxRetries", "0 to 20"));
    }
    let b = &step.backoff;
    if !(b.base_seconds > 0.0 && b.base_seconds <= 3600.0) {
        problems.push(at_step(step, "backoff.baseSeconds", "more than 0, at most 3,600"));
    }
    if !(b.cap_seconds >= b.base_seconds && b.cap_seconds <= 86_400.0) {
        problems.push(at_step(step, "backoff.capSeconds", "at least baseSeconds, at most 86,400"));
    }
    if let Some(group) = &step.parallel_group
        && !valid_name(group)
    {
        problems.push(at_step(step, "parallelGroup", "1 to 100 letters, digits, spaces, '-', '_' or '.'"));
    }
    for (i, criterion) in step.success_criteria.iter().enumerate() {
        let set = [criterion.equals.is_some(), criterion.at_least.is_some(), criterion.at_most.is_some(), criterion.contains.is_some()];
        if criterion.field.trim().is_empty() {
            problems.push(at_step(step, &format!("successCriteria.{i}.field"), "the output field to check (dotted path)"));
        }
        if set.iter().filter(|s| **s).count() != 1 {
            problems.push(at_step(step, &format!("successCriteria.{i}"), "exactly one of equals, atLeast, atMost, contains"));
        }
    }
    for problem in steps::check(step.step_type, &step.config) {
        let name = if problem.field.is_empty() { "config".to_string() } else { format!("config.{}", problem.field) };
        problems.push(at_step(step, &name, problem.message));
    }
    problems
}

/// Each step's dependencies, by index, resolved from the document's order, its parallel groups
/// and the explicit lists; a dependency on an unknown step or a cycle is a problem naming the
/// step.
pub fn graph(d: &PlanDocument) -> Result<Vec<Vec<usize>>, PlanProblem> {
    let index: BTreeMap<&str, usize> = d.steps.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(d.steps.len());
    // What the next implicitly ordered step waits for: the previous step, or every member of
    // the parallel group just before it.
    let mut before: Vec<usize> = Vec::new();
    let mut group: Option<(&str, Vec<usize>, Vec<usize>)> = None; // (name, its predecessors, its members)
    for (i, step) in d.steps.iter().enumerate() {
        let joins_group = match (&group, &step.parallel_group) {
            (Some((name, _, _)), Some(mine)) => name == mine,
            _ => false,
        };
        if !joins_group {
            if let Some((_, _, members)) = group.take() {
                before = members;
            }
            if let Some(mine) = &step.parallel_group {
                group = Some((mine.as_str(), before.clone(), Vec::new()));
            }
        }
        let implicit = match &group {
            Some((_, predecessors, _)) => predecessors.clone(),
            None => before.clone(),
        };
        let resolved = match &step.dependencies {
            None => implicit,
            Some(names) => {
                let mut resolved = Vec::new();
                for name in names {
                    match index.get(name.as_str()) {
                        Some(&j) if j == i => return Err(at_step(step, "dependencies", "a step cannot depend on itself")),
                        Some(&j) => resolved.push(j),
                        None => return Err(at_step(step, "dependencies", format!("no step is called {name:?}"))),
                    }
                }
                resolved
            }
        };
        deps.push(resolved);
        match &mut group {
            Some((_, _, members)) => members.push(i),
            None => before = vec![i],
        }
    }
    if let Some(cycle) = find_cycle(&deps) {
        let names: Vec<&str> = cycle.iter().map(|&i| d.steps[i].name.as_str()).collect();
        return Err(at_step(&d.steps[cycle[0]], "dependencies", format!("a cycle: {}", names.join(" → "))));
    }
    Ok(deps)
}

/// A cycle in the dependency graph, as the steps on it, if any (depth-first, three colours).
fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; deps.len()];
    for start in 0..deps.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // The path and, for each node on it, the next dependency to look at.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnPath;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match marks[dep] {
                    Mark::OnPath => {
                        let from = path.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<usize> = path[from..].iter().map(|(n, _)| *n).collect();
                        cycle.push(dep);
                        return Some(cycle);
                    }
                    Mark::New => {
                        marks[dep] = Mark::OnPath;
                        path.push((dep, 0));
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                path.pop();
            }
        }
    }
    None
}

/// The document again, in the given format (an export; JSON pretty-printed).
pub fn write(d: &PlanDocument, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(d).unwrap_or_default(),
        Format::Yaml => serde_norway::to_string(d).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(steps: &str) -> String {
        format!(
            "name: Region loss\ndisasterScenario: data_center_outage\ndisasterType: region_outage\nseverity: 1\nestimatedRtoMinutes: 15\nestimatedRpoMinutes: 5\nsteps:\n{steps}"
        )
    }

    fn step(name: &str, extra: &str) -> String {
        format!("  - name: {name}\n    type: validation\n    config: {{ tcp: \"127.0.0.1:1\" }}\n{extra}")
    }

    #[test]
    fn steps_run_in_order_unless_grouped_or_listed() {
        let text = doc(&[
            step("a", ""),
            step("b", "    parallelGroup: g\n"),
            step("c", "    parallelGroup: g\n"),
            step("d", ""),
            step("e", "    dependencies: []\n"),
        ]
        .concat());
        let (d, format) = read(&text).unwrap();
        assert_eq!(format, Format::Yaml);
        assert_eq!(graph(&d).unwrap(), vec![vec![], vec![0], vec![0], vec![1, 2], vec![]]);
    }

    #[test]
    fn a_cycle_is_named_with_its_steps() {
        let text = doc(&[step("a", "    dependencies: [b]\n"), step("b", "    dependencies: [a]\n")].concat());
        let problems = read(&text).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].to_string().contains("a cycle: a → b → a"), "{}", problems[0]);
    }

    #[test]
    fn problems_name_the_step_and_the_field() {
        let text = doc(&[step("a", "    maxRetries: 99\n"), step("a", "    dependencies: [nope]\n")].concat());
        let problems: Vec<String> = read(&text).unwrap_err().iter().map(|p| p.to_string()).collect();
        assert!(problems.contains(&"step `a`, maxRetries: 0 to 20".to_string()), "{problems:?}");
        assert!(problems.contains(&"step `a`, name: another step has this name".to_string()), "{problems:?}");
        let unknown = doc(&step("a", "    colour: red\n"));
        assert!(read(&unknown).unwrap_err()[0].message.contains("unknown field `colour`"));
    }

    #[test]
    fn a_document_reads_back_from_its_export() {
        let (d, _) = read(&doc(&[step("a", ""), step("b", "    critical: false\n")].concat())).unwrap();
        for format in [Format::Yaml, Format::Json] {
            assert_eq!(read(&write(&d, format)).unwrap().0, d);
        }
    }
}
