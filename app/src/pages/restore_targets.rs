//! The Restoration page's Targets section: named places restores go into, per environment,
//! with a connection test that really connects.

use leptos::prelude::*;

use crate::api::restoration::{CreateRestoreTarget, DeleteRestoreTarget, Environment, RestoreTargetLine, TargetType, TestRestoreTarget, list_restore_targets};
use crate::components::{ErrorPanel, action_outcome};

/// What each type of target asks for, as the form's hint.
fn takes(kind: TargetType) -> &'static str {
    match kind {
        TargetType::Postgresql => "a server URL (postgresql://user@host:5432, a database after the port is optional) and its password",
        TargetType::Directory => "an absolute directory under a restore root",
        TargetType::DataDirectory => "an absolute directory under a restore root, and the port the restored cluster listens on",
        TargetType::S3Bucket => "a bucket, an optional prefix and endpoint, and the access key and secret the restore writes with",
    }
}

#[component]
pub fn RestoreTargetsPanel() -> impl IntoView {
    let create = ServerAction::<CreateRestoreTarget>::new();
    let test = ServerAction::<TestRestoreTarget>::new();
    let delete = ServerAction::<DeleteRestoreTarget>::new();
    let rows = Resource::new(move || (create.version().get(), test.version().get(), delete.version().get()), |_| list_restore_targets());
    let kind = RwSignal::new(TargetType::Postgresql);
    // Fields of other types are hidden and disabled: a disabled field is not sent, and the
    // server refuses a field the target's type does not take.
    let shows = move |kinds: &'static [TargetType]| move || !kinds.contains(&kind.get());
    view! {
        <section class="panel" data-testid="restore-targets">
            <h2>"Restore targets"</h2>
            <p>"Named places restores go into. A target stays inside what the server allows (its restore roots and restore hosts); its secret is sealed and never shown again."</p>
            <ActionForm action=create attr:class="grid-form">
                <label>"Name" <input type="text" name="name" required maxlength="100"/></label>
                <label>"Environment"
                    <select name="environment" aria-label="Environment">
                        {Environment::ALL.iter().map(|e| view! { <option value=e.as_str()>{e.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Type"
                    <select name="target_type" aria-label="Type" on:change=move |ev| kind.set(TargetType::parse(&event_target_value(&ev)).unwrap_or(TargetType::Postgresql))>
                        {TargetType::ALL.iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <p class="hint">{move || format!("A {} target takes {}.", kind.get(), takes(kind.get()))}</p>
                <label class:hidden=shows(&[TargetType::Postgresql])>"Server URL" <input prop:disabled=shows(&[TargetType::Postgresql]) type="text" name="url" placeholder="postgresql://postgres@127.0.0.1:5432/restored"/></label>
                <label class:hidden=shows(&[TargetType::Directory, TargetType::DataDirectory])>"Directory" <input prop:disabled=shows(&[TargetType::Directory, TargetType::DataDirectory]) type="text" name="path" aria-label="Directory"/></label>
                <label class:hidden=shows(&[TargetType::DataDirectory])>"Port" <input prop:disabled=shows(&[TargetType::DataDirectory]) type="number" name="port" min="1024" max="65535" placeholder="5433"/></label>
                <label class:hidden=shows(&[TargetType::S3Bucket])>"Endpoint (empty for AWS)" <input prop:disabled=shows(&[TargetType::S3Bucket]) type="url" name="endpoint" placeholder="http://127.0.0.1:8333"/></label>
                <label class:hidden=shows(&[TargetType::S3Bucket])>"Region" <input prop:disabled=shows(&[TargetType::S3Bucket]) type="text" name="region" placeholder="us-east-1"/></label>
                <label class:hidden=shows(&[TargetType::S3Bucket])>"Bucket" <input prop:disabled=shows(&[TargetType::S3Bucket]) type="text" name="bucket"/></label>
                <label class:hidden=shows(&[TargetType::S3Bucket])>"Prefix" <input prop:disabled=shows(&[TargetType::S3Bucket]) type="text" name="prefix"/></label>
                <label class:hidden=shows(&[TargetType::S3Bucket])>"Access key" <input prop:disabled=shows(&[TargetType::S3Bucket]) type="text" name="access_key" autocomplete="off"/></label>
                <label class:hidden=shows(&[TargetType::Postgresql, TargetType::S3Bucket])>
                    {move || if kind.get() == TargetType::S3Bucket { "Secret key" } else { "Password" }}
                    <input prop:disabled=shows(&[TargetType::Postgresql, TargetType::S3Bucket]) type="password" name="secret" autocomplete="new-password" aria-label="Secret"/>
                </label>
                <button type="submit" class="primary">"Add target"</button>
            </ActionForm>
            {action_outcome(create.value(), "target-created")}
            {action_outcome(test.value(), "target-test")}
            {action_outcome(delete.value(), "target-deleted")}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No restore targets yet: add one above."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data">
                                <thead><tr><th>"Name"</th><th>"Environment"</th><th>"Type"</th><th>"Where"</th><th>"Last test"</th><th>"Actions"</th></tr></thead>
                                <tbody>{list.into_iter().map(|t| view! { <TargetLine target=t test delete/> }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TargetLine(target: RestoreTargetLine, test: ServerAction<TestRestoreTarget>, delete: ServerAction<DeleteRestoreTarget>) -> impl IntoView {
    let last_test = match (target.last_test_ok, target.last_test_message.clone()) {
        (None, _) => "never tested".to_string(),
        (Some(true), m) => format!("works: {}", m.unwrap_or_default()),
        (Some(false), m) => format!("failed: {}", m.unwrap_or_default()),
    };
    let (id1, id2) = (target.id.clone(), target.id.clone());
    view! {
        <tr data-target=target.name.clone()>
            <td>{target.name.clone()}</td>
            <td>{target.environment.as_str()}</td>
            <td>{target.target_type.as_str()}</td>
            <td><code>{target.place.clone()}</code>{target.has_secret.then_some(" (secret kept sealed)")}</td>
            <td>{last_test}</td>
            <td class="actions">
                <ActionForm action=test attr:class="row-form">
                    <input type="hidden" name="id" value=id1/>
                    <button type="submit">"Test connection"</button>
                </ActionForm>
                <ActionForm action=delete attr:class="row-form">
                    <input type="hidden" name="id" value=id2/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
