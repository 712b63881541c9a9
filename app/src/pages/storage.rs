//! Storage locations: add local directories and S3 buckets, test them for real, initialise
//! their repositories.

use leptos::prelude::*;

use crate::api::locations::{CreateLocation, DeleteLocation, InitLocation, LocationRow, LocationUsage, TestLocation, list_locations};
use crate::components::{EmptyState, ErrorPanel, PageHeader, form_error};

#[component]
pub fn StoragePage() -> impl IntoView {
    let create = ServerAction::<CreateLocation>::new();
    let test = ServerAction::<TestLocation>::new();
    let init = ServerAction::<InitLocation>::new();
    let delete = ServerAction::<DeleteLocation>::new();
    let usage = ServerAction::<LocationUsage>::new();
    let rows = Resource::new(
        move || (create.version().get(), test.version().get(), init.version().get(), delete.version().get()),
        |_| list_locations(),
    );
    let provider = RwSignal::new("local".to_string());
    let test_result = move || {
        test.value().get().map(|r| match r {
            Ok(t) => view! {
                <p class=if t.ok { "ok" } else { "form-error" } role="status" data-testid="test-result">
                    {format!("{}: {}", t.location, if t.ok { "connection works" } else { "connection failed" })} " — " {t.message}
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    let kit = move || {
        init.value().get().and_then(Result::ok).map(|k| view! {
            <div class="secret" role="status" data-testid="recovery-kit">
                <p><strong>"Recovery kit: print it and keep it apart from the backups. It is not shown again."</strong></p>
                <p>"Repository " <code>{k.repository_id}</code> " at " <code>{k.location}</code></p>
                <p>"Key file (save as a file; " <code>"bulwark repo --key-file FILE"</code> " opens the repository):"</p>
                <code data-testid="key-file">{k.key_file}</code>
                <p>{k.instructions}</p>
            </div>
        })
    };
    view! {
        <PageHeader title="Storage Locations" lead="Where backups are kept: local disks and S3-compatible buckets, in tiers from primary to archive."/>
        <section class="panel">
            <h2>"Add a storage location"</h2>
            <ActionForm action=create attr:class="grid-form">
                <label>"Name" <input type="text" name="location_name" required/></label>
                <label>"Tier"
                    <select name="storage_type" aria-label="Tier">
                        <option value="primary">"primary"</option>
                        <option value="secondary">"secondary"</option>
                        <option value="tertiary">"tertiary"</option>
                        <option value="archive">"archive"</option>
                    </select>
                </label>
                <label>"Provider"
                    <select name="provider" aria-label="Provider" on:change=move |ev| provider.set(event_target_value(&ev))>
                        <option value="local">"local directory"</option>
                        <option value="s3">"S3-compatible bucket"</option>
                    </select>
                </label>
                <label>{move || if provider.get() == "s3" { "Prefix in the bucket" } else { "Directory (absolute path)" }}
                    <input type="text" name="path_prefix" aria-label="Path"/>
                </label>
                <label class:hidden=move || provider.get() != "s3">"Endpoint (empty for AWS)" <input type="url" name="endpoint" placeholder="http://127.0.0.1:8333"/></label>
                <label class:hidden=move || provider.get() != "s3">"Region" <input type="text" name="region" placeholder="us-east-1"/></label>
                <label class:hidden=move || provider.get() != "s3">"Bucket" <input type="text" name="bucket"/></label>
                <label class:hidden=move || provider.get() != "s3">"Access key" <input type="text" name="access_key" autocomplete="off"/></label>
                <label class:hidden=move || provider.get() != "s3">"Secret key" <input type="password" name="secret_key" autocomplete="new-password"/></label>
                <label>"Price per GB-month" <input type="text" name="cost_per_gb_month" inputmode="decimal" placeholder="0.023"/></label>
                <label>"Price per 1,000 requests" <input type="text" name="cost_per_1k_requests" inputmode="decimal" placeholder="0.005"/></label>
                <label>"Price per GB transferred out" <input type="text" name="cost_per_gb_transfer" inputmode="decimal" placeholder="0.09"/></label>
                <label class="check" class:hidden=move || provider.get() != "s3">
                    <input type="checkbox" name="immutability"/> "Immutable (Object Lock)"
                </label>
                <label class:hidden=move || provider.get() != "s3">"Lock each object for (days)"
                    <input type="number" name="object_lock_days" min="1" max="36500" placeholder="30"/>
                </label>
                <label class:hidden=move || provider.get() != "s3">"Storage class"
                    <select name="storage_class" aria-label="Storage class">
                        <option value="">"Bucket default"</option>
                        // The classes the server accepts: each readable at once (no thaw request).
                        <option value="STANDARD">"STANDARD"</option>
                        <option value="STANDARD_IA">"STANDARD_IA"</option>
                        <option value="ONEZONE_IA">"ONEZONE_IA"</option>
                        <option value="INTELLIGENT_TIERING">"INTELLIGENT_TIERING"</option>
                        <option value="GLACIER_IR">"GLACIER_IR"</option>
                    </select>
                </label>
                <button type="submit" class="primary">"Add location"</button>
            </ActionForm>
            {form_error(create.value())}
        </section>
        {test_result}
        {move || usage.value().get().map(|r| match r {
            Ok(text) => view! { <p class="ok" role="status" data-testid="usage">{text}</p> }.into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
        {form_error(init.value())}
        {form_error(delete.value())}
        {kit}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No storage locations yet">
                            <p>"A storage location is a local directory or an S3-compatible bucket, with a tier, a price per GB-month and optional immutability (Object Lock). Backups are deduplicated, compressed and encrypted before they reach it."</p>
                            <p>"Add one with the form above (or " <code>"POST /api/admin/backups/storage-locations"</code> "), test the connection, then initialise its repository."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="data">
                            <thead><tr><th>"Name"</th><th>"Tier"</th><th>"Where"</th><th>"Price"</th><th>"Last test"</th><th>"Repository"</th><th>"Actions"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|l| view! { <LocationLine location=l test init delete usage/> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
        <super::recovery::RecoveryPanel/>
    }
}

#[component]
fn LocationLine(
    location: LocationRow,
    test: ServerAction<TestLocation>,
    init: ServerAction<InitLocation>,
    delete: ServerAction<DeleteLocation>,
    usage: ServerAction<LocationUsage>,
) -> impl IntoView {
    let (id1, id2, id3, id4) = (location.id.clone(), location.id.clone(), location.id.clone(), location.id.clone());
    let last_test = match (location.last_test_ok, location.last_test_message.clone()) {
        (None, _) => "never tested".to_string(),
        (Some(true), _) => "works".to_string(),
        (Some(false), m) => format!("failed: {}", m.unwrap_or_default()),
    };
    let has_repo = location.repository_id.is_some();
    view! {
        <tr data-location=location.name.clone()>
            <td>{location.name.clone()}</td>
            <td>{location.tier.clone()}</td>
            <td><code>{location.place.clone()}</code></td>
            <td>{location.cost_per_gb_month.map(|c| format!("{c} /GB-month")).unwrap_or_default()}</td>
            <td>{last_test}</td>
            <td>
                {match location.repository_id.clone() {
                    Some(r) => view! { <a href=format!("/storage/{}", location.id)>{format!("{} · snapshots", &r[..12.min(r.len())])}</a> }.into_any(),
                    None => view! { <span>"not initialised"</span> }.into_any(),
                }}
            </td>
            <td class="actions">
                <ActionForm action=test attr:class="row-form">
                    <input type="hidden" name="id" value=id1/>
                    <button type="submit">"Test connection"</button>
                </ActionForm>
                <ActionForm action=usage attr:class="row-form">
                    <input type="hidden" name="id" value=id4/>
                    <button type="submit">"Usage"</button>
                </ActionForm>
                {(!has_repo).then(|| view! {
                    <ActionForm action=init attr:class="row-form">
                        <input type="hidden" name="id" value=id2/>
                        <button type="submit">"Initialise repository"</button>
                    </ActionForm>
                    <ActionForm action=delete attr:class="row-form">
                        <input type="hidden" name="id" value=id3/>
                        <button type="submit" class="danger">"Delete"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
