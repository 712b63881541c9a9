//! The snapshot browser: a location's snapshots, and the files of a tree snapshot, with
//! downloads of single files.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::snapshots::{browse_snapshot, location_snapshots};
use crate::components::{EmptyState, ErrorPanel, PageHeader};

#[component]
pub fn LocationSnapshotsPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(id, location_snapshots);
    view! {
        <PageHeader title="Snapshots" lead="What a storage location's repository holds, newest first."/>
        {move || view! { <super::floor::FloorPanel id=id()/> <super::replication::ReplicationPanel id=id()/> <super::repair::RepairPanel id=id()/> }}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok((name, list)) if list.is_empty() => view! {
                        <EmptyState title="No snapshots yet">
                            <p>{format!("The repository of {name} holds no snapshots. Backups written to it appear here.")}</p>
                        </EmptyState>
                    }.into_any(),
                    Ok((name, list)) => {
                        let location = id();
                        view! {
                            <h2>{name}</h2>
                            <table class="data">
                                <thead><tr><th>"Snapshot"</th><th>"Time"</th><th>"Kind"</th><th>"Source"</th><th>"Files"</th><th>"Bytes"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|s| {
                                        let short = s.id[..12.min(s.id.len())].to_string();
                                        let cell = if s.kind == "tree" {
                                            view! { <a href=format!("/storage/{location}/{}", s.id)>{short}</a> }.into_any()
                                        } else {
                                            view! { <code>{short}</code> }.into_any()
                                        };
                                        view! {
                                            <tr data-snapshot=s.id.clone()>
                                                <td>{cell}</td><td>{s.time}</td><td>{s.kind}</td><td>{s.source}</td><td>{s.files}</td><td>{s.bytes}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
pub fn SnapshotBrowserPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        let p = params.read();
        (p.get("id").unwrap_or_default(), p.get("snapshot").unwrap_or_default(), query.read().get("dir").unwrap_or_default())
    };
    let entries = Resource::new(key, |(id, snapshot, dir)| browse_snapshot(id, snapshot, dir));
    view! {
        <PageHeader title="Snapshot" lead="Walk the snapshot's tree; download single files (restores of whole trees go through Restoration or `bulwark repo restore`)."/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (id, snapshot, dir) = key();
                match entries.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) => {
                        let up = (!dir.is_empty()).then(|| {
                            let parent = dir.rsplit_once('/').map(|(p, _)| p.to_string()).unwrap_or_default();
                            view! { <p><a href=format!("/storage/{id}/{snapshot}?dir={}", crate::url::encode(&parent))>"↑ up"</a></p> }
                        });
                        view! {
                            <p class="muted" data-testid="current-dir">{format!("/{dir}")}</p>
                            {up}
                            <table class="data">
                                <thead><tr><th>"Name"</th><th>"Kind"</th><th>"Mode"</th><th>"Size"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|e| {
                                        let action = match e.kind.as_str() {
                                            "dir" => view! { <a href=format!("/storage/{id}/{snapshot}?dir={}", crate::url::encode(&e.path))>"Open"</a> }.into_any(),
                                            "file" => view! {
                                                <a href=format!("/api/admin/backups/storage-locations/{id}/snapshots/{snapshot}/file?path={}", crate::url::encode(&e.path)) download=e.name.clone()>"Download"</a>
                                            }.into_any(),
                                            _ => view! { <span></span> }.into_any(),
                                        };
                                        view! {
                                            <tr data-entry=e.name.clone()>
                                                <td>{e.name.clone()}</td><td>{e.kind.clone()}</td><td>{e.mode.clone()}</td><td>{e.size}</td><td>{action}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
