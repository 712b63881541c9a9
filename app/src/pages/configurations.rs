//! The Configurations page: what is backed up, and a "Run now" per configuration.

use leptos::prelude::*;


use crate::api::{configurations::{ConfigurationRow, CreateConfiguration, RunConfiguration, SourceKind, list_configurations}, locations::list_locations};
use crate::components::{EmptyState, ErrorPanel, PageHeader, form_error};

#[component]
pub fn ConfigurationsPage() -> impl IntoView {
    let create = ServerAction::<CreateConfiguration>::new();
    let run = ServerAction::<RunConfiguration>::new();
    let rows = Resource::new(move || (create.version().get(), run.version().get()), |_| list_configurations());
    let locations = Resource::new(|| (), |_| list_locations());
    let source_type = RwSignal::new(SourceKind::Filesystem);
    // "Run now" opens the execution's live page.
    Effect::new(move |_| {
        if let Some(Ok(id)) = run.value().get() {
            leptos_router::hooks::use_navigate()(&format!("/executions/{id}"), Default::default());
        }
    });
    view! {
        <PageHeader title="Configurations" lead="What is backed up, how often, how long it is kept, and the RTO/RPO it must meet."/>
        <section class="panel">
            <h2>"Add a backup configuration"</h2>
            <ActionForm action=create attr:class="grid-form">
                <label>"Name" <input type="text" name="name" required/></label>
                <label>"Source"
                    <select name="source_type" aria-label="Source" on:change=move |ev| source_type.set(SourceKind::parse(&event_target_value(&ev)).unwrap_or(SourceKind::Filesystem))>
                        {SourceKind::ALL.iter().map(|&kind| view! { <option value=kind.as_str()>{label(kind)}</option> }).collect_view()}
                    </select>
                </label>
                <label>{move || match source_type.get() {
                        SourceKind::Postgresql => "Database URL (postgresql://user@host:5432/db)",
                        SourceKind::S3Bucket | SourceKind::SupabaseStorage => "Bucket (s3://bucket or s3://bucket/prefix)",
                        SourceKind::EnvironmentVars => "An .env file or a directory of configuration files (absolute path)",
                        SourceKind::ConsistencyGroup => "What the group protects (a description)",
                        SourceKind::Filesystem => "Directory (absolute path)",
                    }}
                    <input type="text" name="source_identifier" aria-label="Source identifier" required/>
                </label>
                <label class:hidden=move || source_type.get() != SourceKind::ConsistencyGroup>"Members (configuration names, comma-separated)"
                    <input type="text" name="members" aria-label="Members" placeholder="Shop database, Assets bucket, App config"/>
                </label>
                <label class:hidden=move || !source_type.get().is_bucket()>"Endpoint (http(s)://…; empty for AWS)"
                    <input type="text" name="endpoint" aria-label="Endpoint"/>
                </label>
                <label class:hidden=move || !source_type.get().is_bucket()>"Region" <input type="text" name="region" aria-label="Region" placeholder="us-east-1"/></label>
                <label class:hidden=move || !source_type.get().is_bucket()>"Access key id" <input type="text" name="access_key_id" aria-label="Access key id"/></label>
                <label class:hidden=move || !matches!(source_type.get(), SourceKind::Postgresql | SourceKind::S3Bucket | SourceKind::SupabaseStorage)>
                    {move || if source_type.get().is_bucket() { "Secret access key (stored encrypted)" } else { "Database password (stored encrypted)" }}
                    <input type="password" name="source_password" aria-label="Source secret" autocomplete="new-password"/>
                </label>
                <label>"Frequency"
                    <span class="hint" class:hidden=move || source_type.get() != SourceKind::Postgresql>"continuous: physical base backups and WAL archiving, for point-in-time restores; otherwise pg_dump"</span>
                    <select name="frequency" aria-label="Frequency">
                        {["manual", "hourly", "daily", "weekly", "monthly", "continuous", "custom"].map(|f| view! { <option value=f>{f}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Schedule (cron; empty: the frequency's preset)"
                    <span class="hint">"five fields (minute hour day month weekday), or six with seconds first; e.g. 30 2 * * * for 02:30 UTC daily"</span>
                    <input type="text" name="schedule" aria-label="Schedule" placeholder="0 1 * * *"/>
                </label>
                <label>"Compression"
                    <select name="compression" aria-label="Compression">
                        <option value="zstd">"zstd"</option>
                        <option value="gzip">"gzip"</option>
                        <option value="none">"none"</option>
                    </select>
                </label>
                <label>"Priority (1 = first)" <input type="number" name="priority_level" min="1" max="10" value="5"/></label>
                <label>"RTO (minutes)" <input type="number" name="rto_minutes" min="1"/></label>
                <label>"RPO (minutes)" <input type="number" name="rpo_minutes" min="1"/></label>
                <fieldset class="inline-fields">
                    <legend>"Retention (empty: keep every backup)"</legend>
                    <label>"Keep last" <input type="number" name="keep_last" min="1" aria-label="Keep last"/></label>
                    <label>"Daily" <input type="number" name="keep_daily" min="1" aria-label="Keep daily"/></label>
                    <label>"Weekly" <input type="number" name="keep_weekly" min="1" aria-label="Keep weekly"/></label>
                    <label>"Monthly" <input type="number" name="keep_monthly" min="1" aria-label="Keep monthly"/></label>
                    <label>"Max age (days)" <input type="number" name="max_age_days" min="1" aria-label="Max age in days"/></label>
                </fieldset>
                <label>"Storage location"
                    <select name="storage_location_id" aria-label="Storage location">
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                locations.await.unwrap_or_default().into_iter().filter(|l| l.repository_id.is_some())
                                    .map(|l| view! { <option value=l.id>{l.name}</option> }).collect_view()
                            })}
                        </Suspense>
                    </select>
                </label>
                <button type="submit" class="primary">"Add configuration"</button>
            </ActionForm>
            {form_error(create.value())}
        </section>
        {form_error(run.value())}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="Nothing is protected yet">
                            <p>"A backup configuration names a source (a directory, a PostgreSQL database or an S3 bucket), how often it runs, its compression, the storage location it writes to, and its RTO and RPO targets. Sources are encrypted and deduplicated on their way to the location."</p>
                            <p>"Start with a " <a href="/storage">"storage location"</a> " that holds a repository; then add the configuration above or with " <code>"POST /api/admin/backups/configurations"</code> "."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="data">
                            <thead><tr><th>"Name"</th><th>"Source"</th><th>"Frequency"</th><th>"RTO / RPO"</th><th>"Last run"</th><th>"Next run"</th><th>"Actions"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|c| view! { <ConfigurationLine configuration=c run/> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// How the form names each kind of source.
fn label(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Filesystem => "directory (filesystem)",
        SourceKind::Postgresql => "PostgreSQL database",
        SourceKind::S3Bucket => "S3 bucket",
        SourceKind::SupabaseStorage => "Supabase Storage (S3 endpoint)",
        SourceKind::EnvironmentVars => "configuration / .env files",
        SourceKind::ConsistencyGroup => "consistency group (full system)",
    }
}

#[component]
fn ConfigurationLine(configuration: ConfigurationRow, run: ServerAction<RunConfiguration>) -> impl IntoView {
    let minutes = |m: Option<i64>| m.map_or_else(|| "—".to_string(), |m| format!("{m} min"));
    let last = match configuration.last_execution_id.clone() {
        Some(id) => view! { <a href=format!("/executions/{id}")>{configuration.status.map(|s| s.as_str()).unwrap_or_default()}</a> }.into_any(),
        None => view! { <span>"never run"</span> }.into_any(),
    };
    view! {
        <tr data-configuration=configuration.name.clone()>
            <td><a href=format!("/configurations/{}", configuration.id)>{configuration.name.clone()}</a></td>
            <td>{configuration.source_type.as_str()} " " <code>{configuration.source_identifier.clone()}</code></td>
            <td>{configuration.frequency.clone()}</td>
            <td>{minutes(configuration.rto_minutes)} " / " {minutes(configuration.rpo_minutes)}</td>
            <td>{last}</td>
            <td data-testid="next-run">{configuration.next_execution.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="actions">
                <ActionForm action=run attr:class="row-form">
                    <input type="hidden" name="id" value=configuration.id.clone()/>
                    <button type="submit">"Run now"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
