//! One backup execution: a live progress bar (server-sent events from
//! `/api/admin/backups/executions/{id}/events`), then its figures.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::legal_holds::{Retention, RetentionPanel};
use crate::api::{human_bytes, executions::{CancelExecution, DiffConfigurationFiles, ExecutionStatus, ExecutionView, MemberPosition, SourceKind, VerifyExecution, get_execution}, restores::{RestoreBucket, RestoreDirectory, RestoreExecution, RestoreGroupPoint}};
use crate::components::{ErrorPanel, PageHeader, action_outcome, follow_events};

#[component]
pub fn ExecutionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let loaded = Resource::new(id, get_execution);
    // The newest state pushed by the server; it wins over what the page loaded with.
    let live = RwSignal::new(None::<ExecutionView>);
    listen(id, live);
    let retention = Retention::new(id);
    view! {
        <PageHeader title="Backup execution"/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(first) => {
                        // Pushed states do not carry the name: it stays the loaded one.
                        let name = first.configuration_name.clone().unwrap_or_else(|| first.configuration_id.clone());
                        view! { <Figures view=Signal::derive(move || live.get().unwrap_or_else(|| first.clone())) configuration_name=name retention/> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn Figures(view: Signal<ExecutionView>, configuration_name: String, retention: Retention) -> impl IntoView {
    let v = move || view.get();
    // A memo: each pushed event must not rebuild the panel (and lose its forms' outcomes).
    let completed = Memo::new(move |_| (view.get().status == ExecutionStatus::Completed).then(|| view.get().id));
    let ratio = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if b > 0 => format!("{:.2}×", a as f64 / b as f64),
        _ => "—".into(),
    };
    view! {
        <section class="panel" data-testid="execution" data-status=move || v().status.as_str()>
            <p>"Status: " <strong data-testid="status">{move || v().status.as_str()}</strong> " · " {move || v().execution_type}
                " · configuration " <a href=move || format!("/configurations/{}", v().configuration_id) data-testid="configuration">{configuration_name}</a></p>
            <div class="progress" role="progressbar" aria-label="Backup progress" aria-valuemin="0" aria-valuemax="100"
                 aria-valuenow=move || v().percent.to_string() data-testid="progress">
                <div class="progress-bar" style=move || format!("width: {}%", v().percent)></div>
            </div>
            <p data-testid="progress-text">{move || {
                let v = v();
                let total = v.bytes_total.map(|t| format!(" of {}", human_bytes(t))).unwrap_or_default();
                let eta = v.eta_seconds.filter(|_| !v.is_finished()).map(|s| format!(", about {s:.0} s left")).unwrap_or_default();
                format!("{}%: {}{total} read, {} new, {}/s{eta}", v.percent, human_bytes(v.bytes_read), human_bytes(v.bytes_new), human_bytes(v.bytes_per_second as u64))
            }}</p>
            {move || v().error_message.map(|m| view! { <p class="form-error" role="alert" data-testid="error">{m}</p> })}
            <CancelButton view/>
        </section>
        <section class="panel" class:hidden=move || v().status != ExecutionStatus::Completed>
            <h2>"Figures"</h2>
            <table class="data" data-testid="figures">
                <tbody>
                    <tr><th>"Source size"</th><td data-testid="size">{move || v().size_bytes.map(human_bytes).unwrap_or_default()}</td></tr>
                    <tr><th>"New data (after dedup)"</th><td>{move || v().new_bytes.map(human_bytes).unwrap_or_default()}</td></tr>
                    <tr><th>"Stored (compressed, encrypted)"</th><td>{move || v().stored_bytes.map(human_bytes).unwrap_or_default()}</td></tr>
                    <tr><th>"Compression ratio"</th><td>{move || ratio(v().new_bytes, v().stored_bytes)}</td></tr>
                    <tr><th>"Dedup ratio"</th><td>{move || ratio(v().size_bytes, v().new_bytes)}</td></tr>
                    <tr><th>"Duration"</th><td>{move || v().duration_seconds.map(|d| format!("{d:.2} s")).unwrap_or_default()}</td></tr>
                    <tr><th>"SHA-256"</th><td><code data-testid="checksum">{move || v().checksum.unwrap_or_default()}</code></td></tr>
                    <tr><th>"Snapshot"</th><td><code>{move || v().snapshot_id.unwrap_or_default()}</code></td></tr>
                    <tr><th>"Verification"</th><td data-testid="verification">{move || match (v().verification_status, v().verified_at) {
                        (Some(status), Some(at)) => format!("{status} at {at}"),
                        _ => "not yet (it runs after each backup)".to_string(),
                    }}</td></tr>
                </tbody>
            </table>
            <VerifyButton id=Signal::derive(move || v().id)/>
            <h3>"Recovery metadata"</h3>
            <pre>{move || v().metadata}</pre>
        </section>
        {move || completed.get().map(|id| view! { <RetentionPanel id retention/> })}
        <RestorePanel view/>
        <DirectoryRestorePanel view/>
        <BucketRestorePanel view/>
        <ConfigDiffPanel view/>
        <GroupPanel view/>
    }
}

/// Reads the backup back now.
#[component]
fn VerifyButton(id: Signal<String>) -> impl IntoView {
    let verify = ServerAction::<VerifyExecution>::new();
    view! {
        <ActionForm action=verify attr:class="row-form">
            <input type="hidden" name="id" value=move || id.get()/>
            <button type="submit">"Verify now"</button>
        </ActionForm>
        {action_outcome(verify.value(), "verify-report")}
    }
}

/// Stops a queued or running execution.
#[component]
fn CancelButton(view: Signal<ExecutionView>) -> impl IntoView {
    let cancel = ServerAction::<CancelExecution>::new();
    view! {
        <div class:hidden=move || view.get().is_finished()>
            <ActionForm action=cancel attr:class="row-form">
                <input type="hidden" name="id" value=move || view.get().id/>
                <button type="submit" class="danger">"Cancel backup"</button>
            </ActionForm>
        </div>
        {action_outcome(cancel.value(), "cancel-report")}
    }
}

/// A consistency group's point: its members, and a restore of all of them.
#[component]
fn GroupPanel(view: Signal<ExecutionView>) -> impl IntoView {
    let restore = ServerAction::<RestoreGroupPoint>::new();
    let members = move || view.get().group.map(|g| g.members).unwrap_or_default();
    // One target per member, in the shape its kind takes, for the administrator to edit.
    let template = move || {
        let mut targets = serde_json::Map::new();
        for m in members() {
            let target = match (&m.position, m.source_type) {
                (MemberPosition::RestorePoint { .. }, _) => serde_json::json!({ "targetDirectory": "/var/lib/postgresql/restored", "port": 5433 }),
                (_, SourceKind::Postgresql) => serde_json::json!({ "targetUrl": "postgresql://postgres@127.0.0.1:5432/restored" }),
                (_, kind) if kind.is_bucket() => serde_json::json!({ "targetBucket": "restored-bucket" }),
                _ => serde_json::json!({ "targetPath": format!("/srv/restore/{}", m.name) }),
            };
            targets.insert(m.name, target);
        }
        serde_json::to_string_pretty(&serde_json::json!({ "members": targets })).unwrap_or_default()
    };
    view! {
        <section class="panel" class:hidden=move || { let v = view.get(); v.status != ExecutionStatus::Completed || v.source_type != Some(SourceKind::ConsistencyGroup) }>
            <h2>"Restore point"</h2>
            <table class="data" data-testid="group-members">
                <thead><tr><th>"Member"</th><th>"Kind"</th><th>"Position"</th></tr></thead>
                <tbody>
                    {move || members().into_iter().map(|m| {
                        let position = match m.position {
                            MemberPosition::RestorePoint { restore_point, lsn, .. } => view! { <span>"restore point " <code>{restore_point}</code> " at " {lsn}</span> }.into_any(),
                            MemberPosition::Execution { execution_id, .. } => view! { <a href=format!("/executions/{execution_id}")>"execution " {execution_id.clone()}</a> }.into_any(),
                        };
                        view! { <tr><td>{m.name}</td><td>{m.source_type.as_str()}</td><td>{position}</td></tr> }
                    }).collect_view()}
                </tbody>
            </table>
            <p>"Restoring the point restores every member to this moment: databases replay to the restore point, the others restore what the group backed up. Give every member its target below; nothing starts unless all are given."</p>
            <ActionForm action=restore attr:class="grid-form">
                <input type="hidden" name="id" value=move || view.get().id/>
                <label>"Targets (JSON)" <textarea name="targets" rows="10" aria-label="Targets">{template}</textarea></label>
                <button type="submit" class="primary">"Restore every member"</button>
            </ActionForm>
            {action_outcome(restore.value(), "restore-report")}
        </section>
    }
}

/// Compare a configuration-file backup with the files as they are now.
#[component]
fn ConfigDiffPanel(view: Signal<ExecutionView>) -> impl IntoView {
    let compare = ServerAction::<DiffConfigurationFiles>::new();
    let list = |keys: Vec<String>| if keys.is_empty() { "—".to_string() } else { keys.join(", ") };
    view! {
        <section class="panel" class:hidden=move || { let v = view.get(); v.status != ExecutionStatus::Completed || v.source_type != Some(SourceKind::EnvironmentVars) }>
            <h2>"Compare with the current files"</h2>
            <p>"Which files were added, removed or changed since this backup, and which keys of environment files. Values are secrets: they are compared on the server and never shown."</p>
            <ActionForm action=compare attr:class="row-form">
                <input type="hidden" name="id" value=move || view.get().id/>
                <button type="submit">"Compare"</button>
            </ActionForm>
            {move || compare.value().get().map(|r| match r {
                Ok(rows) => view! {
                    <table class="data" data-testid="config-diff">
                        <thead><tr><th>"File"</th><th>"Status"</th><th>"Keys added"</th><th>"Keys removed"</th><th>"Keys changed (values hidden)"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|f| view! {
                                <tr data-file=f.path.clone()>
                                    <td><code>{f.path.clone()}</code></td><td>{f.status}</td>
                                    <td>{list(f.added)}</td><td>{list(f.removed)}</td><td>{list(f.changed)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

/// Restore a bucket execution: every object or chosen key prefixes, into its own bucket or another.
#[component]
fn BucketRestorePanel(view: Signal<ExecutionView>) -> impl IntoView {
    let restore = ServerAction::<RestoreBucket>::new();
    view! {
        <section class="panel" class:hidden=move || { let v = view.get(); v.status != ExecutionStatus::Completed || !v.source_type.is_some_and(SourceKind::is_bucket) }>
            <h2>"Restore objects"</h2>
            <p>"Objects are written back with their content type and metadata, each checked against its SHA-256 before it appears. Without a target bucket they go back where they came from; name key prefixes (comma-separated) to restore only those."</p>
            <ActionForm action=restore attr:class="grid-form">
                <input type="hidden" name="id" value=move || view.get().id/>
                <label>"Target bucket (optional)" <input type="text" name="target_bucket" placeholder="restored-assets"/></label>
                <label>"Target prefix (optional)" <input type="text" name="target_prefix"/></label>
                <label>"Key prefixes (optional)" <input type="text" name="include" placeholder="avatars/, docs/"/></label>
                <button type="submit" class="primary">"Restore objects"</button>
            </ActionForm>
            {action_outcome(restore.value(), "restore-report")}
        </section>
    }
}

/// Restore a directory execution into a directory: everything, or chosen paths.
#[component]
fn DirectoryRestorePanel(view: Signal<ExecutionView>) -> impl IntoView {
    let restore = ServerAction::<RestoreDirectory>::new();
    view! {
        <section class="panel" class:hidden=move || { let v = view.get(); v.status != ExecutionStatus::Completed || !v.source_type.is_some_and(SourceKind::is_files) }>
            <h2>"Restore into a directory"</h2>
            <p>"Every file is checked against its SHA-256 and appears only complete; files already identical in the target are left alone, so an interrupted restore resumes. Name paths (comma-separated) to restore only those."</p>
            <ActionForm action=restore attr:class="grid-form">
                <input type="hidden" name="id" value=move || view.get().id/>
                <label>"Target directory" <input type="text" name="target_path" placeholder="/srv/restore" required/></label>
                <label>"Paths (optional)" <input type="text" name="include" placeholder="etc/nginx, docs"/></label>
                <label class="check"><input type="checkbox" name="skip_unreadable" value="on"/> "Restore everything that can be read: files with damaged data are left out and listed, instead of stopping at the first"</label>
                <button type="submit" class="primary">"Restore files"</button>
            </ActionForm>
            {move || restore.value().get().map(|r| match r {
                Ok(done) => {
                    let (whole, count) = (done.unreadable.is_empty(), done.unreadable.len());
                    view! {
                        <p class="ok" role="status" data-testid="restore-report">{done.sentence}</p>
                        <div class="form-error" role="alert" data-testid="restore-unreadable" class:hidden=whole>
                            <p>{format!("{count} could not be read and were not restored:")}</p>
                            <ul>{done.unreadable.into_iter().map(|u| view! { <li>{u}</li> }).collect_view()}</ul>
                        </div>
                    }.into_any()
                }
                Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

/// Restore a PostgreSQL execution into a database: whole, or named tables.
#[component]
fn RestorePanel(view: Signal<ExecutionView>) -> impl IntoView {
    let restore = ServerAction::<RestoreExecution>::new();
    view! {
        <section class="panel" class:hidden=move || { let v = view.get(); v.status != ExecutionStatus::Completed || v.format != "pg_basebackup tar" }>
            <h2>"Restore to a point in time"</h2>
            <p>"This is a physical base backup: restore it, with the archived WAL after it, from "
                <a href=move || format!("/configurations/{}", view.get().configuration_id)>"its configuration's page"</a> "."</p>
        </section>
        <section class="panel" class:hidden=move || { let v = view.get(); v.status != ExecutionStatus::Completed || v.source_type != Some(SourceKind::Postgresql) || v.format == "pg_basebackup tar" }>
            <h2>"Restore into a database"</h2>
            <p>"The dump streams into " <code>"pg_restore --single-transaction"</code> ": the target database is created when missing, and a failure commits nothing. Name tables (schema.table, comma-separated) to bring back only those; they must not exist in the target."</p>
            <ActionForm action=restore attr:class="grid-form">
                <input type="hidden" name="id" value=move || view.get().id/>
                <label>"Target database URL" <input type="text" name="target_url" placeholder="postgresql://postgres@127.0.0.1:5432/restored" required/></label>
                <label>"Password" <input type="password" name="target_password" autocomplete="new-password"/></label>
                <label>"Tables (optional)" <input type="text" name="tables" placeholder="public.customers"/></label>
                <button type="submit" class="primary">"Restore"</button>
            </ActionForm>
            {action_outcome(restore.value(), "restore-report")}
        </section>
    }
}

/// Follows the execution's event stream until it has finished (in the browser).
fn listen(id: impl Fn() -> String + Send + Sync + 'static, live: RwSignal<Option<ExecutionView>>) {
    let url = move || format!("/api/admin/backups/executions/{}/events", id());
    follow_events(url, "execution", |e: &bulwark_types::Execution| ExecutionView::of(e).is_finished(), move |e| live.set(Some(ExecutionView::of(&e))));
}
