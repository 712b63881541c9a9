//! One backup configuration: its executions and, for a continuous PostgreSQL configuration,
//! the restorable window, the `archive_command` to give the cluster, and a point-in-time
//! restore.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{human_bytes, configurations::{ConfigurationDetail, CreateWalToken, RecoverConfiguration, RecoveryWindowView, SlotLine, get_configuration}};
use crate::components::{ErrorPanel, PageHeader, action_outcome};

#[component]
pub fn ConfigurationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let recover = ServerAction::<RecoverConfiguration>::new();
    let detail = Resource::new(move || (id(), recover.version().get()), |(id, _)| get_configuration(id));
    view! {
        <PageHeader title="Backup configuration"/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(c) => view! { <Detail c recover/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// When the configuration runs by itself, and the slots its schedule fired.
#[component]
fn SchedulePanel(schedule: Option<String>, next: Option<String>, slots: Vec<SlotLine>) -> impl IntoView {
    let Some(expression) = schedule else {
        return view! {
            <section class="panel" data-testid="schedule"><h2>"Schedule"</h2><p>"Runs only when asked (manual)."</p></section>
        }
        .into_any();
    };
    view! {
        <section class="panel" data-testid="schedule">
            <h2>"Schedule"</h2>
            <p>"Cron " <code>{expression}</code> " (UTC) · next run " <strong data-testid="next-run">{next.unwrap_or_else(|| "— (paused)".into())}</strong></p>
            {if slots.is_empty() {
                view! { <p class="hint">"No slot has fired yet."</p> }.into_any()
            } else {
                view! {
                    <table class="data">
                        <thead><tr><th>"Slot"</th><th>"Outcome"</th><th>"Fired by"</th></tr></thead>
                        <tbody>
                            {slots.into_iter().map(|s| view! {
                                <tr>
                                    <td>{match s.execution_id {
                                        Some(id) => view! { <a href=format!("/executions/{id}")>{s.slot_at}</a> }.into_any(),
                                        None => view! { <span>{s.slot_at}</span> }.into_any(),
                                    }}</td>
                                    <td>{s.outcome}</td>
                                    <td><code>{s.node}</code></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}

#[component]
fn Detail(c: ConfigurationDetail, recover: ServerAction<RecoverConfiguration>) -> impl IntoView {
    let kind = if c.continuous { "physical base backups + WAL archive (point-in-time)" } else { "scheduled backups" };
    let id = c.id.clone();
    view! {
        <section class="panel" data-testid="configuration">
            <h2>{c.name.clone()}</h2>
            <p>{c.source_type.as_str()} " " <code>{c.source_identifier.clone()}</code> " · " {c.frequency.clone()} " · " {kind}</p>
        </section>
        <SchedulePanel schedule=c.schedule.clone() next=c.next_execution.clone() slots=c.slots.clone()/>
        {c.window.clone().map(|w| view! { <WindowPanel id=id.clone() w archive_command=c.archive_command.clone().unwrap_or_default()/> })}
        {c.continuous.then(|| view! { <RecoverPanel id=id.clone() roots=c.restore_roots.clone() recover/> })}
        <section class="panel">
            <h2>"Executions"</h2>
            <table class="data">
                <thead><tr><th>"Started"</th><th>"Status"</th><th>"Size"</th><th>"Duration"</th></tr></thead>
                <tbody>
                    {c.executions.into_iter().map(|e| view! {
                        <tr>
                            <td><a href=format!("/executions/{}", e.id)>{e.created_at}</a></td>
                            <td>{e.status.as_str()}</td>
                            <td>{e.size_bytes.map(human_bytes).unwrap_or_default()}</td>
                            <td>{e.duration_seconds.map(|d| format!("{d:.2} s")).unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn WindowPanel(id: String, w: RecoveryWindowView, archive_command: String) -> impl IntoView {
    let or_none = |t: Option<String>| t.unwrap_or_else(|| "—".into());
    let token = ServerAction::<CreateWalToken>::new();
    view! {
        <section class="panel" data-testid="recovery-window">
            <h2>"Restorable window"</h2>
            <table class="data">
                <tbody>
                    <tr><th>"Earliest point"</th><td data-testid="window-earliest">{or_none(w.earliest)}</td></tr>
                    <tr><th>"Latest point"</th><td data-testid="window-latest">{or_none(w.latest)}</td></tr>
                    <tr><th>"Base backups"</th><td>{w.base_backups}</td></tr>
                    <tr><th>"WAL files archived"</th><td data-testid="window-wal-files">{w.wal_files} " (" {human_bytes(w.wal_bytes)} ")"</td></tr>
                    <tr><th>"Last WAL file"</th><td><code>{or_none(w.last_wal_file)}</code></td></tr>
                </tbody>
            </table>
            <h3>"Archiving"</h3>
            <p>"Set this as the cluster's " <code>"archive_command"</code> " (with " <code>"archive_mode = on"</code> "); PostgreSQL retries a failed upload, and the same file twice is fine. Give it a WAL push token: it may push this configuration's WAL and nothing else, so a superuser of the cluster who reads the setting gains no more (revoke it under Account)."</p>
            <pre data-testid="archive-command">{archive_command}</pre>
            <ActionForm action=token>
                <input type="hidden" name="id" value=id/>
                <button type="submit">"Create a WAL push token"</button>
            </ActionForm>
            {move || token.value().get().map(|r| match r {
                Ok(command) => view! {
                    <p class="ok" role="status">"The token is shown this once: copy the command now."</p>
                    <pre data-testid="archive-command-with-token">{command}</pre>
                }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn RecoverPanel(id: String, roots: Vec<String>, recover: ServerAction<RecoverConfiguration>) -> impl IntoView {
    let target = RwSignal::new("latest".to_string());
    view! {
        <section class="panel">
            <h2>"Point-in-time restore"</h2>
            <p>"The newest base backup before the target is unpacked into a new, empty data directory and the archived WAL is replayed up to the target. With a port, Bulwark starts the restored cluster on 127.0.0.1, waits until it is promoted and checks it answers; it never archives into this configuration. The restored cluster runs with Bulwark's settings (the source's are kept in " <code>"bulwark_source_config/"</code> ") and listens on 127.0.0.1 only."</p>
            <p class="hint" data-testid="restore-roots">"The new data directory must lie below: " {roots.join(", ")}</p>
            <ActionForm action=recover attr:class="grid-form">
                <input type="hidden" name="id" value=id/>
                <label>"New data directory" <input type="text" name="target_directory" placeholder="/var/lib/postgresql/restored" required/></label>
                <label>"Restore to"
                    <select name="target" aria-label="Restore to" on:change=move |ev| target.set(event_target_value(&ev))>
                        <option value="latest">"the latest point"</option>
                        <option value="time">"a time"</option>
                        <option value="restore_point">"a named restore point"</option>
                    </select>
                </label>
                <label class:hidden=move || target.get() != "time">"Time (RFC 3339, UTC)" <input type="text" name="target_time" placeholder="2026-11-23T01:02:03Z"/></label>
                <label class:hidden=move || target.get() != "restore_point">"Restore point" <input type="text" name="restore_point"/></label>
                <label>"Start on port (optional)" <input type="number" name="port" min="1" max="65535"/></label>
                <button type="submit" class="primary">"Restore"</button>
            </ActionForm>
            {action_outcome(recover.value(), "recover-report")}
        </section>
    }
}
