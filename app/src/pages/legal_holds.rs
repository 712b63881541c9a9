//! The retention panel of an execution's page: when its backup goes, the legal holds that keep
//! it (add, release), and deleting it by hand.

use leptos::prelude::*;

use crate::api::{AppError, human_bytes, retention::{AddLegalHold, DeleteBackup, HoldLine, ReleaseLegalHold, RetentionInfo, execution_retention}};
use crate::components::action_outcome;

/// The retention panel's data and actions, made by the execution page outside its `Suspend`.
/// Why: the server builds a `Suspend`'s view more than once, so a resource made inside it got
/// a different number on the server than in the browser, which then hydrated the panel with
/// another resource's data and stopped.
#[derive(Clone, Copy)]
pub struct Retention {
    info: Resource<Result<RetentionInfo, AppError>>,
    add: ServerAction<AddLegalHold>,
    release: ServerAction<ReleaseLegalHold>,
    delete: ServerAction<DeleteBackup>,
}

impl Retention {
    pub fn new(id: impl Fn() -> String + Send + Sync + 'static) -> Self {
        let add = ServerAction::<AddLegalHold>::new();
        let release = ServerAction::<ReleaseLegalHold>::new();
        let delete = ServerAction::<DeleteBackup>::new();
        let info = Resource::new(
            move || (id(), add.version().get(), release.version().get(), delete.version().get()),
            |(id, ..)| execution_retention(id),
        );
        Self { info, add, release, delete }
    }
}

/// Shown under a completed execution.
#[component]
pub fn RetentionPanel(id: String, retention: Retention) -> impl IntoView {
    let Retention { info, add, release, delete } = retention;
    let hold_id = id.clone();
    view! {
        <section class="panel" data-testid="retention">
            <h2>"Retention and legal holds"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match info.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(info) => view! { <Info info release/> }.into_any(),
                    }
                })}
            </Transition>
            {action_outcome(release.value(), "release-report")}
            <h3>"Place a legal hold"</h3>
            <ActionForm action=add attr:class="grid-form">
                <input type="hidden" name="id" value=hold_id/>
                <label>"Title" <input type="text" name="title" aria-label="Hold title"/></label>
                <label>"Reason" <input type="text" name="reason" aria-label="Hold reason"/></label>
                <label>"Expires (RFC 3339, empty: until released)" <input type="text" name="expires_at" aria-label="Hold expiry" placeholder="2027-06-30T00:00:00Z"/></label>
                <button type="submit">"Place hold"</button>
            </ActionForm>
            {action_outcome(add.value(), "hold-report")}
            <h3>"Delete this backup"</h3>
            <p class="hint">"Forgets the snapshot and frees the data only it used. Refused while a legal hold is active or the location's minimum retention has not passed."</p>
            <ActionForm action=delete attr:class="row-form">
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="danger">"Delete backup"</button>
            </ActionForm>
            {action_outcome(delete.value(), "delete-report")}
        </section>
    }
}

#[component]
fn Info(info: RetentionInfo, release: ServerAction<ReleaseLegalHold>) -> impl IntoView {
    let status = match (&info.deleted_at, &info.scheduled_deletion_date) {
        (Some(at), _) => format!("Deleted at {at}; {} freed.", human_bytes(info.size_freed_bytes.unwrap_or(0))),
        (None, Some(date)) => format!("Planned for deletion on {date} (maximum age)."),
        (None, None) => "Kept as long as its configuration's policy selects it.".to_string(),
    };
    view! {
        <p data-testid="retention-status">{status}</p>
        {(!info.holds.is_empty()).then(|| view! {
            <table class="data" data-testid="holds">
                <thead><tr><th>"Hold"</th><th>"Reason"</th><th>"Placed"</th><th>"Expires"</th><th>"State"</th><th>"Actions"</th></tr></thead>
                <tbody>
                    {info.holds.into_iter().map(|h| view! { <HoldRow h release/> }).collect_view()}
                </tbody>
            </table>
        })}
    }
}

#[component]
fn HoldRow(h: HoldLine, release: ServerAction<ReleaseLegalHold>) -> impl IntoView {
    let state = match (&h.released_at, h.active) {
        (Some(at), _) => format!("released {at} by {}", h.released_by.clone().unwrap_or_default()),
        (None, true) => "active".to_string(),
        (None, false) => "expired".to_string(),
    };
    view! {
        <tr data-hold=h.title.clone()>
            <td>{h.title.clone()}</td>
            <td>{h.reason.clone()}</td>
            <td>{format!("{} by {}", h.created_at, h.created_by)}</td>
            <td>{h.expires_at.clone().unwrap_or_else(|| "—".into())}</td>
            <td>{state}</td>
            <td class="actions">
                {h.active.then(|| view! {
                    <ActionForm action=release attr:class="row-form">
                        <input type="hidden" name="hold_id" value=h.id.clone()/>
                        <button type="submit">"Release"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
